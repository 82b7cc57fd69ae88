//! Path normalization and request framing, end to end: raw requests (so no client normalizes the
//! path first), curl `--path-as-is` as an independent client, and malformed HTTP/1.1 framing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, raw_exchange, within};
use gatehouse_testkit::raw::{body_of, curl_as_is, status_of};
use gatehouse_testkit::{Upstream, require_server, spawn_echo};
use serde_json::Value;
use tokio::io::AsyncReadExt;

const RAW_WAIT: Duration = Duration::from_secs(3);

/// `/admin` and `/public` on two different upstreams.
async fn start() -> (TestGateway, Upstream, Upstream) {
    let admin = spawn_echo().await;
    let public = spawn_echo().await;
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  admin:\n    targets: [\"{}\"]\n  public:\n    targets: [\"{}\"]\nroutes:\n  - name: admin\n    match: {{ path: {{ prefix: /admin }} }}\n    upstream: admin\n  - name: public\n    match: {{ path: {{ prefix: /public }} }}\n    upstream: public\n",
        admin.addr, public.addr
    );
    (TestGateway::start(&yaml).await, admin, public)
}

async fn raw_get(addr: SocketAddr, target: &[u8]) -> String {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n");
    within("raw", raw_exchange(addr, &req, RAW_WAIT)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_and_slashes_route_on_the_normalized_path() {
    let (gw, admin, public) = start().await;
    let targets: [&[u8]; 4] = [
        b"/public/../admin",
        b"/public/%2e%2e/admin",
        b"/public/%2E%2E/./admin",
        b"//admin",
    ];
    for (i, target) in targets.iter().enumerate() {
        let raw = raw_get(gw.addr, target).await;
        let shown = String::from_utf8_lossy(target);
        assert_eq!(status_of(&raw), 200, "{shown}: {raw}");
        let v: Value = serde_json::from_str(body_of(&raw)).expect("echo JSON");
        assert_eq!(v["path"], "/admin", "{shown}");
        assert_eq!(admin.hits(), i + 1, "{shown} reached the admin route");
    }
    assert_eq!(public.hits(), 0);

    if require_server("curl") {
        for path in ["/public/../admin", "/public/%2e%2e/admin", "//admin"] {
            let (status, body) = curl_as_is(format!("http://{}{path}", gw.addr)).await;
            assert_eq!(status, 200, "curl {path}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["path"], "/admin", "curl {path}");
        }
        assert_eq!(public.hits(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangerous_paths_are_400_problems() {
    let (gw, admin, public) = start().await;
    let targets: [&[u8]; 6] = [
        b"/public/a%2Fb",
        b"/public/a%2fb",
        b"/public/a%00b",
        b"/public/a\\b",
        b"/public/a%5Cb",
        b"/public/%zz",
    ];
    for target in targets {
        let shown = String::from_utf8_lossy(target);
        let raw = raw_get(gw.addr, target).await;
        assert_eq!(status_of(&raw), 400, "{shown}: {raw}");
        assert!(
            raw.to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{shown}: {raw}"
        );
        let v: Value = serde_json::from_str(body_of(&raw)).expect("problem JSON");
        assert_eq!(v["status"], 400, "{shown}");
    }
    if require_server("curl") {
        for path in [
            "/public/a%2Fb",
            "/public/a%00b",
            "/public/a%5Cb",
            "/public/%zz",
        ] {
            let (status, body) = curl_as_is(format!("http://{}{path}", gw.addr)).await;
            assert_eq!(status, 400, "curl {path}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["status"], 400);
        }
    }
    assert_eq!(admin.hits() + public.hits(), 0);
}

/// A raw-TCP upstream that records every byte it receives and answers `200 ok` once it has a
/// complete request head whose body (if chunked) is terminated.
async fn spawn_recorder() -> (SocketAddr, Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut mine = Vec::new();
                loop {
                    let n = match tokio::time::timeout(RAW_WAIT, s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => n,
                        _ => return,
                    };
                    mine.extend_from_slice(&buf[..n]);
                    record.lock().unwrap().extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&mine).to_ascii_lowercase();
                    if let Some((head, _)) = text.split_once("\r\n\r\n") {
                        let chunked = head.contains("transfer-encoding: chunked");
                        if !chunked || text.ends_with("0\r\n\r\n") {
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .await;
                            mine.clear();
                        }
                    }
                }
            });
        }
    });
    (addr, seen, task)
}

async fn single_route_gateway(target: SocketAddr) -> TestGateway {
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{target}\"]\n    timeouts: {{ request: 5s }}\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n"
    );
    TestGateway::start(&yaml).await
}

/// Writes `pieces` to a new connection (pausing between them so that they arrive as separate
/// reads), then reads until the server closes. `None` when it did not close within [`RAW_WAIT`].
async fn exchange_until_close(addr: SocketAddr, pieces: &[&[u8]]) -> Option<String> {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    for piece in pieces {
        stream.write_all(piece).await.expect("write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut out = Vec::new();
    tokio::time::timeout(RAW_WAIT, stream.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

/// The text that, inside a body, must never be taken for headers.
const DECOY: &str = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_is_refused_and_closes() {
    let echo = spawn_echo().await;
    let gw = single_route_gateway(echo.addr).await;
    let hidden = "GET /smuggled HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    let body = format!("0\r\n\r\n{hidden}");
    let heads = [
        "Content-Length: {n}\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: {n}",
        "transfer-encoding:\tCHUNKED \r\nX-Other: 1\r\ncontent-LENGTH:   {n}  ",
    ];
    for framing in heads {
        let framing = framing.replace("{n}", &body.len().to_string());
        let req = format!("POST /first HTTP/1.1\r\nHost: gw.test\r\n{framing}\r\n\r\n{body}");
        // hyper drops `Content-Length` when `Transfer-Encoding` is present; the connection's
        // framing scanner sees the pair, the request is refused, never forwarded, and the
        // connection closes after the response (so the smuggled bytes are never parsed).
        let raw = within("cl+te", exchange_until_close(gw.addr, &[req.as_bytes()]))
            .await
            .unwrap_or_else(|| panic!("{framing:?}: the connection stayed open"));
        assert_eq!(raw.matches("HTTP/1.1 ").count(), 1, "one response: {raw}");
        assert_eq!(status_of(&raw), 400, "{framing:?}: {raw}");
        let head = raw
            .split_once("\r\n\r\n")
            .map_or("", |(h, _)| h)
            .to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/problem+json"),
            "{raw}"
        );
        assert!(head.contains("connection: close"), "{raw}");
        let v: Value = serde_json::from_str(body_of(&raw)).expect("problem JSON");
        assert_eq!(v["status"], 400, "{v}");
        assert_eq!(
            v["detail"], "both Content-Length and Transfer-Encoding",
            "{v}"
        );
        assert!(!raw.contains("/smuggled"), "{raw}");
    }
    assert_eq!(echo.hits(), 0, "nothing reached the upstream");

    // A keep-alive connection with chunked and sized bodies that contain header-like text: every
    // request is answered, as separate reads and pipelined in one write.
    let sized = format!(
        "POST /sized HTTP/1.1\r\nHost: gw.test\r\nContent-Length: {}\r\n\r\n{DECOY}",
        DECOY.len()
    );
    let chunked = format!(
        "POST /chunked HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n{:x};note=x\r\n{DECOY}\r\n5\r\nhello\r\n0\r\n\r\n",
        DECOY.len()
    );
    let last = "GET /last HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n";
    let pieces = [
        sized.as_bytes(),
        chunked.as_bytes(),
        sized.as_bytes(),
        chunked.as_bytes(),
        last.as_bytes(),
    ];
    let raw = within("keep-alive", exchange_until_close(gw.addr, &pieces))
        .await
        .expect("closed after the last request");
    assert_eq!(raw.matches("HTTP/1.1 200 OK").count(), 5, "{raw}");
    assert_eq!(raw.matches("HTTP/1.1 ").count(), 5, "{raw}");
    assert_eq!(raw.matches("\"body_len\"").count(), 5, "{raw}");
    assert_eq!(echo.hits(), 5);
    let pipelined = pieces.concat();
    let raw = within("pipelined", exchange_until_close(gw.addr, &[&pipelined]))
        .await
        .expect("closed after the last request");
    assert_eq!(raw.matches("HTTP/1.1 200 OK").count(), 5, "{raw}");
    assert_eq!(echo.hits(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_content_lengths_are_400() {
    let echo = spawn_echo().await;
    let gw = single_route_gateway(echo.addr).await;
    let req = b"POST /x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    let raw = within("two cl", raw_exchange(gw.addr, req, RAW_WAIT)).await;
    assert_eq!(status_of(&raw), 400, "{raw}");
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_chunk_size_never_completes_upstream() {
    let (addr, seen, task) = spawn_recorder().await;
    let gw = single_route_gateway(addr).await;
    let req = b"POST /x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let raw = within("bad chunk", raw_exchange(gw.addr, req, RAW_WAIT)).await;
    let status = status_of(&raw);
    assert!(
        status == 400 || status == 0,
        "expected 400 or a closed connection, got: {raw}"
    );
    let upstream = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(
        !upstream.ends_with("0\r\n\r\n"),
        "upstream received a complete chunked request: {upstream:?}"
    );
    assert!(!upstream.contains("hello"), "{upstream:?}");
    task.abort();
}
