//! Connect failures and request timeouts.

use std::time::{Duration, Instant};

use gatehouse_upstream::{Cluster, Error};

use crate::support::{fetch, reply, serve, upstream};

#[tokio::test]
async fn connect_refused_is_a_quick_connect_error() {
    // A port that was just free: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);

    let cluster = Cluster::new(&upstream(std::slice::from_ref(&address))).unwrap();
    let started = Instant::now();
    let err = fetch(&cluster, "/").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(err.is_connect(), "{err}");
    assert!(!err.is_timeout());
    let message = err.to_string();
    assert!(message.contains(&address), "{message}");
}

#[tokio::test]
async fn slow_response_head_is_a_timeout() {
    let origin = serve(None, |_req| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        reply(200, "late")
    })
    .await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.timeouts.request = Duration::from_millis(200);
    let cluster = Cluster::new(&cfg).unwrap();
    let started = Instant::now();
    let err = fetch(&cluster, "/").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err}");
    assert!(matches!(err, Error::Timeout { .. }));
    assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2));
}

#[tokio::test]
async fn connect_timeout_is_a_connect_error() {
    // A non-routable address (TEST-NET-1 is not routed; the SYN goes nowhere) or an immediate
    // "unreachable": either way a connect error, well within the request timeout.
    let mut cfg = upstream(&["192.0.2.1:81".to_owned()]);
    cfg.timeouts.connect = Duration::from_millis(200);
    cfg.timeouts.request = Duration::from_secs(5);
    let cluster = Cluster::new(&cfg).unwrap();
    let started = Instant::now();
    let err = fetch(&cluster, "/").await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
