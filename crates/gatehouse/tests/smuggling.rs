//! Request smuggling and host confusion, sent by independent clients: raw HTTP/1.1 bytes over a
//! socket, and HTTP/2 frames from the Python `h2` package (`h2/client.py`), never our own stack.
//!
//! - HTTP/2 `:authority` vs `host`: routing, authorization, the forwarded `Host` and
//!   `X-Forwarded-Host` use one authority; a disagreeing `host` is refused (400).
//! - HTTP/1.1 hosts: missing, repeated or invalid `Host` → 400 (RFC 9112 §3.2).
//! - `h2c` upgrades are never forwarded; only a WebSocket handshake on a `websocket: true` route
//!   may tunnel, and only when the upstream switches to WebSocket.
//! - `Transfer-Encoding: chunked, chunked` → 400; an upstream response with both
//!   `Content-Length` and `Transfer-Encoding` → 502 and its connection is not reused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, raw_exchange};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::raw::{body_of, status_of};
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use gatehouse_testkit::{Upstream, require_python_modules, spawn_echo};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(5);
const KEY: &str = "admin-key-3c1f7e";

/// `admin.test` (key_auth) and `public.test` (open) on two echo upstreams, routed by host.
struct Hosts {
    gw: TestGateway,
    admin: Upstream,
    public: Upstream,
}

async fn hosts() -> Hosts {
    let admin = spawn_echo().await;
    let public = spawn_echo().await;
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  admin:
    targets: ["{}"]
  public:
    targets: ["{}"]
consumers:
  - {{ id: root, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: admin
    match: {{ hosts: [admin.test], path: {{ prefix: / }} }}
    upstream: admin
    plugins:
      - key_auth: {{ header: x-api-key }}
  - name: public
    match: {{ hosts: [public.test], path: {{ prefix: / }} }}
    upstream: public
"#,
        admin.addr,
        public.addr,
        sha256_hex_via_cli(KEY)
    );
    Hosts {
        gw: TestGateway::start(&yaml).await,
        admin,
        public,
    }
}

/// Sends `requests` (see `h2/client.py`) over one prior-knowledge HTTP/2 connection.
fn h2_exchange(addr: SocketAddr, requests: Value) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/client.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(requests.to_string())
        .output()
        .expect("run h2/client.py");
    assert!(
        out.status.success(),
        "client.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("client.py JSON")
}

fn get(authority: Option<&str>, extra: &[(&str, &str)]) -> Value {
    let mut headers = vec![
        json!([":method", "GET"]),
        json!([":scheme", "http"]),
        json!([":path", "/who"]),
    ];
    if let Some(a) = authority {
        headers.push(json!([":authority", a]));
    }
    for (n, v) in extra {
        headers.push(json!([n, v]));
    }
    json!({ "headers": headers })
}

fn seen(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("echo JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_authority_and_host_must_agree() {
    if !require_python_modules(&["h2"]) {
        return;
    }
    let s = hosts().await;
    let addr = s.gw.addr;
    let results = tokio::task::spawn_blocking(move || {
        h2_exchange(
            addr,
            json!([
                // Routed on :authority public.test, but a host header naming the protected host.
                get(Some("public.test"), &[("host", "admin.test")]),
                // And the other way round.
                get(Some("admin.test"), &[("host", "public.test")]),
                // Agreeing (case aside): fine.
                get(Some("public.test"), &[("host", "PUBLIC.test")]),
                // :authority alone.
                get(Some("public.test"), &[]),
                // No :authority, a host header only (allowed by RFC 9113 §8.3.1).
                get(None, &[("host", "public.test")]),
                // Neither.
                get(None, &[]),
                // An authority no component can agree on.
                get(Some("public.test, admin.test"), &[]),
                get(Some("admin.test"), &[("x-api-key", KEY)]),
            ]),
        )
    })
    .await
    .unwrap();
    let status = |i: usize| results[i]["status"].as_u64();
    // An authority that is not even a valid URI authority: h2 resets the stream (PROTOCOL_ERROR).
    assert!(
        status(6) == Some(400) || results[6]["reset"] == 1,
        "{}",
        results[6]
    );
    for i in [0, 1, 5] {
        assert_eq!(status(i), Some(400), "request {i}: {}", results[i]);
        assert_eq!(
            results[i]["headers"]["content-type"], "application/problem+json",
            "{}",
            results[i]
        );
    }
    for i in [2, 3, 4] {
        assert_eq!(status(i), Some(200), "request {i}: {}", results[i]);
        let echo = seen(results[i]["body"].as_str().unwrap());
        let host = echo["headers"]["host"][0]
            .as_str()
            .unwrap()
            .to_ascii_lowercase();
        assert_eq!(host, "public.test", "{echo}");
        let xfh = echo["headers"]["x-forwarded-host"][0]
            .as_str()
            .unwrap()
            .to_ascii_lowercase();
        assert_eq!(xfh, "public.test", "{echo}");
        assert_eq!(echo["headers"]["host"].as_array().unwrap().len(), 1);
    }
    // Authenticated on the admin host: the admin upstream sees that same host.
    assert_eq!(status(7), Some(200), "{}", results[7]);
    let echo = seen(results[7]["body"].as_str().unwrap());
    assert_eq!(echo["headers"]["host"][0], "admin.test");
    assert_eq!(echo["headers"]["x-forwarded-host"][0], "admin.test");
    assert_eq!(s.admin.hits(), 1, "only the authenticated request");
    assert_eq!(s.public.hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_host_must_be_single_and_valid() {
    let s = hosts().await;
    let cases: &[&[u8]] = &[
        b"GET /who HTTP/1.1\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public.test\r\nHost: admin.test\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public.test\r\nHost: public.test\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public%2etest\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public.test, admin.test\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public.test\x00admin.test\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: x@public.test\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public.test:99999\r\n\r\n",
        b"GET /who HTTP/1.1\r\nHost: public.test admin.test\r\n\r\n",
        b"GET http://public.test/who HTTP/1.1\r\nHost: admin.test\r\n\r\n",
        b"GET http://admin.test/who HTTP/1.1\r\nHost: public.test\r\n\r\n",
        b"GET http://public.test/who HTTP/1.1\r\n\r\n",
    ];
    for (i, req) in cases.iter().enumerate() {
        // `Connection: close` after the request line, so that the exchange ends with the response.
        let line_end = req.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let mut closing = req[..line_end].to_vec();
        closing.extend_from_slice(b"Connection: close\r\n");
        closing.extend_from_slice(&req[line_end..]);
        let raw = raw_exchange(s.gw.addr, &closing, T).await;
        assert_eq!(
            status_of(&raw),
            400,
            "case {i} {:?}: {raw}",
            String::from_utf8_lossy(req)
        );
    }
    assert_eq!(s.admin.hits() + s.public.hits(), 0);

    // Fine: one Host; absolute-form agreeing with it; HTTP/1.0 without Host is host-less (no
    // host route matches it: 404, not the first host's route).
    let ok = raw_exchange(
        s.gw.addr,
        b"GET http://public.test/who HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n",
        T,
    )
    .await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    let echo = seen(body_of(&ok));
    assert_eq!(echo["headers"]["host"][0], "public.test");
    assert_eq!(echo["path"], "/who");
    let old = raw_exchange(s.gw.addr, b"GET /who HTTP/1.0\r\n\r\n", T).await;
    assert!(old.starts_with("HTTP/1.0 404 "), "{old}");
    assert_eq!(s.public.hits(), 1);
}

/// An upstream that answers `101 Switching Protocols` (upgrade: the token it was asked for, or
/// `upgrade_to`) to any request with an `Upgrade` header — or, with `upgrade_to` set, to every
/// request — and then echoes raw bytes back; other requests get 200 with the request head as
/// body. Counts connections; records every head.
struct Switcher {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    heads: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn spawn_switcher(upgrade_to: Option<&'static str>) -> Switcher {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, h) = (connections.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let h = h.clone();
            tokio::spawn(async move {
                loop {
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    h.lock().unwrap().push(head.clone());
                    let lower = head.to_ascii_lowercase();
                    let asked = lower.lines().find(|l| l.starts_with("upgrade:"));
                    if asked.is_some() || upgrade_to.is_some() {
                        let asked = asked
                            .map_or("", |l| l["upgrade:".len()..].trim())
                            .to_owned();
                        let proto = upgrade_to.map_or(asked, str::to_owned);
                        let reply = format!(
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: {proto}\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
                        );
                        let _ = stream.write_all(reply.as_bytes()).await;
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = stream.read(&mut buf).await {
                            if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{head}",
                        head.len()
                    );
                    if stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Switcher {
        addr,
        connections,
        heads,
    }
}

/// Reads one request head (no body) from `stream`.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn switcher_config(up: SocketAddr, websocket: bool) -> String {
    format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  backend:
    targets: ["{up}"]
consumers:
  - {{ id: root, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
    websocket: {websocket}
  - name: locked
    match: {{ path: {{ prefix: /locked }} }}
    upstream: backend
    plugins:
      - key_auth: {{ header: x-api-key }}
"#,
        sha256_hex_via_cli(KEY)
    )
}

/// Sends `first`, reads the response, then sends `second` on the same connection and returns both
/// raw responses (the second may be empty when the gateway closed the connection).
async fn two_on_one(addr: SocketAddr, first: &[u8], second: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(first).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(T, stream.read(&mut buf))
        .await
        .expect("first response")
        .unwrap_or(0);
    let one = String::from_utf8_lossy(&buf[..n]).into_owned();
    let _ = stream.write_all(second).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut out)).await;
    (one, String::from_utf8_lossy(&out).into_owned())
}

const H2C_UPGRADE: &[u8] = b"GET /open/x HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
const LOCKED: &[u8] = b"GET /locked/secret HTTP/1.1\r\nHost: gw.test\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_upgrade_is_never_forwarded() {
    for websocket in [false, true] {
        let up = spawn_switcher(None).await;
        let gw = TestGateway::start(&switcher_config(up.addr, websocket)).await;
        let (one, two) = two_on_one(gw.addr, H2C_UPGRADE, LOCKED).await;
        // Proxied as a plain request: the upstream never saw the upgrade, so it answered 200.
        assert_eq!(status_of(&one), 200, "websocket={websocket}: {one}");
        let lower = one.to_ascii_lowercase();
        assert!(!lower.contains("upgrade: h2c"), "{one}");
        assert!(!lower.contains("http2-settings"), "{one}");
        // The next request on the connection went through the pipeline: refused without a key.
        assert_eq!(status_of(&two), 401, "websocket={websocket}: {two}");
        let heads = up.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 1, "{heads:?}");
        assert!(!heads[0].to_ascii_lowercase().contains("locked"));
        assert_eq!(up.connections.load(Ordering::SeqCst), 1);
    }
}

const WS_HANDSHAKE: &[u8] = b"GET /open/ws HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_websocket_routes_tunnel_and_only_to_websocket() {
    // A route without `websocket: true`: the handshake is proxied as a plain GET.
    let up = spawn_switcher(None).await;
    let gw = TestGateway::start(&switcher_config(up.addr, false)).await;
    let (one, two) = two_on_one(gw.addr, WS_HANDSHAKE, LOCKED).await;
    assert_eq!(status_of(&one), 200, "{one}");
    assert_eq!(status_of(&two), 401, "{two}");
    let head = up.heads.lock().unwrap()[0].to_ascii_lowercase();
    assert!(!head.contains("upgrade"), "{head}");

    // With `websocket: true` the tunnel opens, and then bytes are the upstream's business.
    let up = spawn_switcher(None).await;
    let gw = TestGateway::start(&switcher_config(up.addr, true)).await;
    let (one, two) = two_on_one(gw.addr, WS_HANDSHAKE, b"raw bytes").await;
    assert_eq!(status_of(&one), 101, "{one}");
    assert_eq!(two, "raw bytes");

    // An upstream that answers a WebSocket handshake by switching to something else: 502.
    let up = spawn_switcher(Some("h2c")).await;
    let gw = TestGateway::start(&switcher_config(up.addr, true)).await;
    let (one, two) = two_on_one(gw.addr, WS_HANDSHAKE, LOCKED).await;
    assert_eq!(status_of(&one), 502, "{one}");
    assert_eq!(status_of(&two), 401, "{two}");

    // An upstream that switches protocols on a request that asked for nothing: 502, no tunnel.
    let up = spawn_switcher(Some("websocket")).await;
    let gw = TestGateway::start(&switcher_config(up.addr, false)).await;
    let plain = b"GET /open/plain HTTP/1.1\r\nHost: gw.test\r\n\r\n";
    let (one, two) = two_on_one(gw.addr, plain, LOCKED).await;
    assert_eq!(status_of(&one), 502, "{one}");
    assert_eq!(status_of(&two), 401, "{two}");

    // A mixed upgrade list is not a WebSocket handshake.
    let up = spawn_switcher(None).await;
    let gw = TestGateway::start(&switcher_config(up.addr, true)).await;
    let mixed = String::from_utf8_lossy(WS_HANDSHAKE)
        .replace("Upgrade: websocket", "Upgrade: websocket, h2c");
    let (one, two) = two_on_one(gw.addr, mixed.as_bytes(), LOCKED).await;
    assert_eq!(status_of(&one), 200, "{one}");
    assert_eq!(status_of(&two), 401, "{two}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_chunked_coding_is_refused_and_closes() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&format!(
        "{PUBLIC_LISTENER_NO_ADMIN}upstreams:\n  backend:\n    targets: [\"{}\"]\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n",
        echo.addr
    ))
    .await;
    let cases: &[&[u8]] = &[
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];
    for req in cases {
        let mut full = req.to_vec();
        full.extend_from_slice(b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
        let raw = raw_exchange(gw.addr, &full, T).await;
        assert_eq!(
            status_of(&raw),
            400,
            "{:?}: {raw}",
            String::from_utf8_lossy(req)
        );
        assert_eq!(raw.matches("HTTP/1.1 ").count(), 1, "one response: {raw}");
    }
    assert_eq!(echo.hits(), 0);
}

/// An upstream whose `/clte` answer carries both `Content-Length` and `Transfer-Encoding`.
async fn spawn_clte() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let c = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                while let Some(head) = read_head(&mut stream).await {
                    let reply: &[u8] = if head.starts_with("GET /clte") {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                    } else {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                    };
                    if stream.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_response_with_both_lengths_is_502_and_not_reused() {
    let (up, connections) = spawn_clte().await;
    let gw = TestGateway::start(&format!(
        "{PUBLIC_LISTENER_NO_ADMIN}upstreams:\n  backend:\n    targets: [\"{up}\"]\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n"
    ))
    .await;
    let ok = raw_exchange(
        gw.addr,
        b"GET /fine HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        T,
    )
    .await;
    assert_eq!(status_of(&ok), 200, "{ok}");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    let bad = raw_exchange(
        gw.addr,
        b"GET /clte HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        T,
    )
    .await;
    assert_eq!(status_of(&bad), 502, "{bad}");
    assert!(!bad.contains("hello"), "{bad}");
    // The pooled connection that carried the ambiguous response is gone: a new one is opened.
    let after = raw_exchange(
        gw.addr,
        b"GET /fine HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        T,
    )
    .await;
    assert_eq!(status_of(&after), 200, "{after}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
