//! Active health checks against a real origin, passive ejection, no usable target.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_config::model::{HealthCheck, PassiveHealth, StatusRange};
use gatehouse_upstream::Cluster;

use crate::support::{client_ip, eventually, fetch, get, reply, serve, upstream};

fn check() -> HealthCheck {
    HealthCheck {
        path: "/healthz".into(),
        host: Some("health.test".into()),
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(500),
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        expected_statuses: vec![StatusRange { from: 200, to: 299 }],
    }
}

#[tokio::test]
async fn active_checks_flip_a_target_unhealthy_and_back() {
    let status = Arc::new(AtomicU16::new(200));
    let checks = Arc::new(AtomicUsize::new(0));
    let (s, c) = (status.clone(), checks.clone());
    let origin = serve(None, move |req| {
        let (status, checks) = (s.clone(), c.clone());
        async move {
            if req.uri().path() == "/healthz" {
                assert_eq!(req.headers()["host"], "health.test");
                checks.fetch_add(1, Ordering::SeqCst);
            }
            reply(status.load(Ordering::SeqCst), "")
        }
    })
    .await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.health_check = Some(check());
    cfg.passive_health = None;
    let cluster = Cluster::new(&cfg).unwrap();
    let head = get("/").into_parts().0;

    assert!(
        eventually(Duration::from_secs(5), || checks.load(Ordering::SeqCst)
            >= 3)
        .await
    );
    assert!(cluster.status()[0].healthy);
    assert!(cluster.select(&head, client_ip()).is_some());

    status.store(500, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(5), || !cluster.status()[0].healthy).await);
    assert!(
        cluster.select(&head, client_ip()).is_none(),
        "no healthy target"
    );

    status.store(200, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(5), || cluster.status()[0].healthy).await);
    assert!(cluster.select(&head, client_ip()).is_some());
    // Checks reuse pooled connections.
    assert!(
        origin.connections() <= 2,
        "{} connections",
        origin.connections()
    );
}

#[tokio::test]
async fn unreachable_target_goes_unhealthy_and_traffic_avoids_it() {
    let origin = serve(None, |_req| async { reply(200, "up") }).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap().to_string();
    drop(listener);

    let mut cfg = upstream(&[origin.address(), dead]);
    cfg.health_check = Some(check());
    let cluster = Cluster::new(&cfg).unwrap();
    assert!(eventually(Duration::from_secs(5), || !cluster.status()[1].healthy).await);
    assert!(cluster.status()[0].healthy);
    for _ in 0..10 {
        assert_eq!(fetch(&cluster, "/").await.unwrap(), (200, "up".to_owned()));
    }
}

#[tokio::test]
async fn passive_ejection_after_consecutive_5xx_then_return() {
    let failing = Arc::new(AtomicU16::new(503));
    let f = failing.clone();
    let origin = serve(None, move |_req| {
        let status = f.load(Ordering::SeqCst);
        async move { reply(status, "") }
    })
    .await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.passive_health = Some(PassiveHealth {
        consecutive_failures: 3,
        ejection_time: Duration::from_secs(1),
    });
    let cluster = Cluster::new(&cfg).unwrap();
    let head = get("/").into_parts().0;

    for _ in 0..2 {
        assert_eq!(fetch(&cluster, "/").await.unwrap().0, 503);
    }
    assert!(!cluster.status()[0].ejected);
    assert_eq!(fetch(&cluster, "/").await.unwrap().0, 503);
    assert!(cluster.status()[0].ejected);
    assert!(
        cluster.status()[0].healthy,
        "ejection does not touch the active state"
    );
    assert!(
        cluster.select(&head, client_ip()).is_none(),
        "the only target is ejected"
    );

    failing.store(200, Ordering::SeqCst);
    assert!(eventually(Duration::from_secs(5), || !cluster.status()[0].ejected).await);
    assert_eq!(fetch(&cluster, "/").await.unwrap().0, 200);
}

#[tokio::test]
async fn passive_failure_counts_reset_on_success() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    // Fails two of every three requests: never three in a row.
    let origin = serve(None, move |_req| {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move { reply(if n % 3 == 2 { 200 } else { 500 }, "") }
    })
    .await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.passive_health = Some(PassiveHealth {
        consecutive_failures: 3,
        ejection_time: Duration::from_secs(30),
    });
    let cluster = Cluster::new(&cfg).unwrap();
    for _ in 0..12 {
        fetch(&cluster, "/").await.unwrap();
    }
    assert!(!cluster.status()[0].ejected);
}
