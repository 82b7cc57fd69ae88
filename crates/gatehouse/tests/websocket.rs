//! WebSocket through the gateway, and no tunnel unless the upstream really switched protocols.

use std::net::SocketAddr;
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, config};
use gatehouse_testkit::{WS_REQUEST_PROBE, spawn_echo, spawn_websocket_echo, ws_roundtrip};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

const ROUTES: &str = "routes:\n  - name: all\n    match: { path: { prefix: / } }\n    upstream: backend\n    websocket: true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_echoes_through_the_gateway() {
    let ws = spawn_websocket_echo().await;
    let gw = TestGateway::start(&config(&[ws.addr], "", ROUTES)).await;
    let url = format!("ws://{}/chat", gw.addr);

    let reply = tokio::time::timeout(T, ws_roundtrip(&url, "hello, gateway"))
        .await
        .expect("roundtrip timed out")
        .expect("WebSocket roundtrip through the gateway");
    assert_eq!(reply, "hello, gateway");

    // The handshake the upstream saw went through the gateway (forwarding headers added).
    let probe = tokio::time::timeout(T, ws_roundtrip(&url, WS_REQUEST_PROBE))
        .await
        .expect("probe timed out")
        .expect("probe roundtrip");
    let seen: serde_json::Value = serde_json::from_str(&probe).expect("probe JSON");
    assert_eq!(seen["path"], "/chat", "{seen}");
    assert!(
        seen["headers"]["x-forwarded-for"].is_array(),
        "upstream handshake: {seen}"
    );
    assert_eq!(ws.hits(), 2);
}

/// Reads one HTTP/1.1 response with a `Content-Length` body from `stream`.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or_else(|| panic!("no content-length in {head}"));
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.expect("read body");
                assert!(n > 0, "connection closed mid-body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
            return (head, body);
        }
        let n = stream.read(&mut chunk).await.expect("read head");
        assert!(
            n > 0,
            "connection closed before a response head: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tunnel_when_the_upstream_answers_200_to_an_upgrade() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(&[echo.addr], "", ROUTES)).await;
    let addr: SocketAddr = gw.addr;

    tokio::time::timeout(T, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(
                b"GET /first HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            )
            .await
            .expect("write upgrade request");
        let (head, body) = read_response(&mut stream).await;
        let status_line = head.lines().next().unwrap_or_default();
        assert!(
            status_line.starts_with("HTTP/1.1 200"),
            "expected the upstream's 200, got: {head}"
        );
        assert!(!head.to_ascii_lowercase().contains("upgrade: websocket"), "{head}");
        let first: serde_json::Value = serde_json::from_str(&body).expect("echo JSON");
        assert_eq!(first["path"], "/first");

        // The connection is still HTTP, handled by the gateway (not a raw tunnel to the upstream):
        // the next request is proxied again, with the gateway's forwarding headers.
        stream
            .write_all(b"GET /second HTTP/1.1\r\nHost: example.test\r\n\r\n")
            .await
            .expect("write second request");
        let (head, body) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let second: serde_json::Value = serde_json::from_str(&body).expect("echo JSON");
        assert_eq!(second["path"], "/second");
        assert!(
            second["headers"]["x-forwarded-for"].is_array(),
            "second request not proxied by the gateway: {second}"
        );
        assert!(
            second["headers"]["x-request-id"].is_array(),
            "second request not proxied by the gateway: {second}"
        );
    })
    .await
    .expect("exchange timed out");
    assert_eq!(echo.hits(), 2);
}
