//! HTTP/1.1 upgrades (WebSocket-style) through `Cluster::send`.

use gatehouse_upstream::Cluster;
use http::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{client_ip, empty, reply, serve, upstream};

#[tokio::test]
async fn upgrade_yields_a_bidirectional_stream() {
    let origin = serve(None, |mut req| async move {
        if req.headers().get(header::UPGRADE).is_none() {
            return reply(400, "upgrade required");
        }
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let mut io = TokioIo::new(upgrade.await.unwrap());
            let mut buf = [0u8; 4];
            io.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            io.write_all(b"pong").await.unwrap();
            io.flush().await.unwrap();
        });
        let mut response = reply(101, "");
        response
            .headers_mut()
            .insert(header::CONNECTION, "upgrade".parse().unwrap());
        response
            .headers_mut()
            .insert(header::UPGRADE, "websocket".parse().unwrap());
        response
    })
    .await;
    let cluster = Cluster::new(&upstream(&[origin.address()])).unwrap();

    let req = Request::builder()
        .uri("/ws")
        .header(header::HOST, "example.test")
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(empty())
        .unwrap();
    let (head, body) = req.into_parts();
    let target = cluster.select(&head, client_ip()).unwrap();
    let response = cluster
        .send(&target, Request::from_parts(head, body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        cluster.status()[0].in_flight,
        1,
        "the guard counts the tunnel"
    );

    let mut io = TokioIo::new(hyper::upgrade::on(response).await.unwrap());
    io.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    io.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
    drop(target);
    assert_eq!(cluster.status()[0].in_flight, 0);
}
