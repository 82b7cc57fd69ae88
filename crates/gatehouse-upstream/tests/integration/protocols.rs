//! HTTP/1.1 keep-alive pooling, idle timeout, HTTP/2 prior knowledge.

use std::time::Duration;

use gatehouse_config::model::UpstreamProtocol;
use gatehouse_upstream::Cluster;

use crate::support::{fetch, reply, serve, upstream};

async fn version_origin() -> crate::support::Origin {
    serve(None, |req| async move {
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        reply(200, format!("{:?} {} {}", req.version(), req.uri(), host))
    })
    .await
}

#[tokio::test]
async fn http1_keep_alive_reuses_one_connection() {
    let origin = version_origin().await;
    let cluster = Cluster::new(&upstream(&[origin.address()])).unwrap();
    for i in 0..20 {
        let (status, body) = fetch(&cluster, &format!("/item?n={i}")).await.unwrap();
        assert_eq!(status, 200);
        // Origin-form URI, HTTP/1.1, and the caller's Host header left alone.
        assert_eq!(body, format!("HTTP/1.1 /item?n={i} example.test"));
    }
    assert_eq!(origin.connections(), 1);
}

#[tokio::test]
async fn idle_connections_expire() {
    let origin = version_origin().await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.timeouts.idle = Duration::from_millis(500);
    let cluster = Cluster::new(&cfg).unwrap();
    fetch(&cluster, "/").await.unwrap();
    fetch(&cluster, "/").await.unwrap();
    assert_eq!(origin.connections(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fetch(&cluster, "/").await.unwrap();
    assert_eq!(origin.connections(), 2);
}

#[tokio::test]
async fn http2_prior_knowledge_multiplexes_one_connection() {
    let origin = version_origin().await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.protocol = UpstreamProtocol::Http2;
    let cluster = Cluster::new(&cfg).unwrap();

    let (status, body) = fetch(&cluster, "/grpc.Service/Method").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("HTTP/2.0 "), "{body}");
    assert!(body.contains("/grpc.Service/Method"), "{body}");

    let requests = (0..10).map(|_| {
        let cluster = cluster.clone();
        tokio::spawn(async move { fetch(&cluster, "/").await.unwrap().0 })
    });
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(origin.connections(), 1);
}
