//! Listener limits end to end: head size and count, body size (declared and streamed), route size
//! limits, slow heads, idle keep-alive connections, the connection cap, and the abuse limits with
//! raw hostile clients: connections per address and request bodies that stall.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatehouse_testkit::gateway::{TestGateway, raw_exchange, within};
use gatehouse_testkit::{Upstream, spawn_echo};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RAW_WAIT: Duration = Duration::from_secs(3);

const LIMITS: &str = "{ max_header_bytes: 8KiB, max_headers: 20, max_body_bytes: 1KiB, header_read_timeout: 500ms, idle_timeout: 1s }";

/// A gateway with `limits` on its listener, one echo upstream and a catch-all route (plus
/// `/small` with `request_size_limit: 512`).
async fn start(limits: &str) -> (TestGateway, Upstream) {
    let echo = spawn_echo().await;
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n    limits: {limits}\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{}\"]\nroutes:\n  - name: small\n    match: {{ path: {{ prefix: /small }} }}\n    upstream: backend\n    plugins:\n      - request_size_limit: {{ max_bytes: 512 }}\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n",
        echo.addr
    );
    (TestGateway::start(&yaml).await, echo)
}

fn status_of(raw: &str) -> u16 {
    raw.strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn assert_problem(raw: &str, status: u16) {
    assert_eq!(status_of(raw), status, "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{raw}"
    );
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let v: Value = serde_json::from_str(body).expect("problem JSON");
    assert_eq!(v["status"], status);
}

async fn exchange(addr: SocketAddr, req: &[u8]) -> String {
    within("raw exchange", raw_exchange(addr, req, RAW_WAIT)).await
}

/// Reads one response with a `Content-Length` body from `stream`; `None` on EOF before a full one.
async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned());
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Whether the peer closes `stream` (EOF or reset) within `wait`; data read before is ignored.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nHost: gw.test\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_head_is_431_problem_json() {
    let (gw, echo) = start(LIMITS).await;
    // Over the configured 8 KiB: the gateway's own 431, with a problem+json body.
    let big = "a".repeat(10 * 1024);
    let req = format!("GET /x HTTP/1.1\r\nHost: gw.test\r\nX-Big: {big}\r\n\r\n");
    let raw = exchange(gw.addr, req.as_bytes()).await;
    assert_problem(&raw, 431);
    // Far over it (past the parser's hard cap at twice the limit): still 431, from the parser.
    let huge = "a".repeat(64 * 1024);
    let req = format!("GET /x HTTP/1.1\r\nHost: gw.test\r\nX-Big: {huge}\r\n\r\n");
    let raw = exchange(gw.addr, req.as_bytes()).await;
    assert_eq!(status_of(&raw), 431, "{raw}");
    assert_eq!(echo.hits(), 0);
    // Just under the limit passes.
    let fits = "a".repeat(7 * 1024);
    let req =
        format!("GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\nX-Big: {fits}\r\n\r\n");
    let raw = exchange(gw.addr, req.as_bytes()).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
    assert_eq!(echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_headers_is_431_problem_json() {
    let (gw, echo) = start(LIMITS).await;
    let mut req = String::from("GET /x HTTP/1.1\r\nHost: gw.test\r\n");
    for i in 0..30 {
        req.push_str(&format!("X-H{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let raw = exchange(gw.addr, req.as_bytes()).await;
    assert_problem(&raw, 431);
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_body_over_the_limit_is_413_before_the_upstream() {
    let (gw, echo) = start(LIMITS).await;
    let mut req =
        b"POST /x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 2048\r\nConnection: close\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&[b'b'; 2048]);
    let raw = exchange(gw.addr, &req).await;
    assert_problem(&raw, 413);
    assert_eq!(echo.hits(), 0);
    // At the limit it passes.
    let mut req =
        b"POST /x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&[b'b'; 1024]);
    let raw = exchange(gw.addr, &req).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_the_limit_is_413_while_streaming() {
    let (gw, _echo) = start(LIMITS).await;
    let mut req = b"POST /x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..4 {
        req.extend_from_slice(b"400\r\n");
        req.extend_from_slice(&[b'c'; 1024]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let raw = exchange(gw.addr, &req).await;
    assert_problem(&raw, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_size_limit_lowers_the_listener_limit() {
    let (gw, echo) = start(LIMITS).await;
    let mut req =
        b"POST /small HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 600\r\nConnection: close\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&[b'b'; 600]);
    let raw = exchange(gw.addr, &req).await;
    assert_problem(&raw, 413);
    assert_eq!(echo.hits(), 0);

    // Chunked, no Content-Length: enforced while streaming.
    let mut req = b"POST /small HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"100\r\n");
        req.extend_from_slice(&[b'c'; 256]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let raw = exchange(gw.addr, &req).await;
    assert_problem(&raw, 413);

    // The same 600 bytes are fine on a route without the plugin.
    let mut req =
        b"POST /other HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 600\r\nConnection: close\r\n\r\n"
            .to_vec();
    req.extend_from_slice(&[b'b'; 600]);
    let raw = exchange(gw.addr, &req).await;
    assert_eq!(status_of(&raw), 200, "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_head_is_cut_off() {
    let (gw, echo) = start(LIMITS).await;
    let mut s = within("connect", TcpStream::connect(gw.addr))
        .await
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    let elapsed = started.elapsed();
    assert!(read.is_ok(), "connection still open after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let text = String::from_utf8_lossy(&out);
    // hyper closes the connection, optionally after a 408.
    assert!(text.is_empty() || status_of(&text) == 408, "{text}");
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed() {
    let (gw, echo) = start(LIMITS).await;
    let mut s = within("connect", TcpStream::connect(gw.addr))
        .await
        .unwrap();
    s.write_all(GET).await.unwrap();
    let resp = within("response", read_response(&mut s))
        .await
        .expect("a response");
    assert_eq!(status_of(&resp), 200, "{resp}");
    assert_eq!(echo.hits(), 1);
    // idle_timeout is 1 s: closed well within 2.5 s.
    assert!(
        closed_within(&mut s, Duration::from_millis(2500)).await,
        "idle connection still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let (gw, echo) = start("{ max_connections: 2, idle_timeout: 30s }").await;
    let mut first = within("c1", TcpStream::connect(gw.addr)).await.unwrap();
    let mut second = within("c2", TcpStream::connect(gw.addr)).await.unwrap();
    for s in [&mut first, &mut second] {
        s.write_all(GET).await.unwrap();
        let resp = within("response", read_response(s))
            .await
            .expect("a response");
        assert_eq!(status_of(&resp), 200);
    }
    // The third connection is accepted by the kernel but not served.
    let mut third = within("c3", TcpStream::connect(gw.addr)).await.unwrap();
    third.write_all(GET).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), read_response(&mut third)).await;
    assert!(early.is_err(), "third connection served over the cap");
    assert_eq!(echo.hits(), 2);
    // Closing one frees a slot: the waiting request is served.
    drop(first);
    let resp = within("third response", read_response(&mut third))
        .await
        .expect("a response once a slot is free");
    assert_eq!(status_of(&resp), 200, "{resp}");
    assert_eq!(echo.hits(), 3);
    drop(second);
}

/// An upstream that holds each request for `hold` and records the most requests it ever had in
/// flight at once.
async fn spawn_concurrency_probe(
    hold: Duration,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let max = max_seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (in_flight, max) = (in_flight.clone(), max.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let (in_flight, max) = (in_flight.clone(), max.clone());
                    async move {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(hold).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from_static(b"ok")),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, max_seen)
}

/// Sends `n` concurrent requests over ONE h2c connection; returns the upstream's peak concurrency.
async fn peak_concurrency_over_one_h2_connection(max_streams: u32, n: usize) -> usize {
    let (upstream, max_seen) = spawn_concurrency_probe(Duration::from_millis(300)).await;
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n    limits: {{ http2_max_concurrent_streams: {max_streams} }}\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n"
    );
    let gw = TestGateway::start(&yaml).await;
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .pool_max_idle_per_host(1)
            .build_http();
    // One request first, so that the connection (and the server's SETTINGS) exists before the burst.
    let first = within("warm-up", client.get(gw.url("/warm").parse().unwrap())).await;
    assert_eq!(first.unwrap().status(), 200);
    max_seen.store(0, std::sync::atomic::Ordering::SeqCst);
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = client.clone();
        let uri: hyper::Uri = gw.url(&format!("/r{i}")).parse().unwrap();
        tasks.push(tokio::spawn(async move {
            client.get(uri).await.map(|r| r.status())
        }));
    }
    for t in tasks {
        let status = within("h2 request", t).await.unwrap().unwrap();
        assert_eq!(status, 200);
    }
    max_seen.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_max_concurrent_streams_is_enforced_per_connection() {
    // The listener advertises SETTINGS_MAX_CONCURRENT_STREAMS; a client on one connection can
    // only have that many requests in flight through the gateway.
    assert_eq!(peak_concurrency_over_one_h2_connection(1, 4).await, 1);
    assert!(peak_concurrency_over_one_h2_connection(8, 4).await >= 2);
}

// === Abuse limits: connections per address, slow request bodies ===

/// Writes `GET` on `stream` and tells whether a 200 came back (`false`: closed without one).
async fn served(stream: &mut TcpStream) -> bool {
    if stream.write_all(GET).await.is_err() {
        return false;
    }
    matches!(
        tokio::time::timeout(RAW_WAIT, read_response(stream)).await,
        Ok(Some(resp)) if status_of(&resp) == 200
    )
}

/// The value of `family{listener="public",reason="…"}` in the gateway's metrics.
fn refused(gw: &TestGateway, reason: &str) -> u64 {
    let text = gw
        .gateway
        .metrics()
        .render(gatehouse_metrics::Format::Prometheus);
    let series =
        format!("gatehouse_connections_refused_total{{listener=\"public\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_ip_over_the_cap_are_closed_at_once() {
    let (gw, echo) = start("{ max_connections_per_ip: 3, idle_timeout: 30s }").await;
    let mut held = Vec::new();
    for i in 0..3 {
        let mut s = within("connect", TcpStream::connect(gw.addr))
            .await
            .unwrap();
        assert!(served(&mut s).await, "connection {i} under the cap");
        held.push(s);
    }
    // 20 more from the same address while the 3 stay open: each closed at once, none served.
    for i in 0..20 {
        let mut s = within("connect", TcpStream::connect(gw.addr))
            .await
            .unwrap();
        let _ = s.write_all(GET).await;
        let started = Instant::now();
        assert!(
            closed_within(&mut s, Duration::from_secs(2)).await,
            "connection {i} over the cap left open"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert_eq!(echo.hits(), 3, "nothing over the cap reached the upstream");
    assert_eq!(refused(&gw, "per_ip_limit"), 20);
    // The held connections still work; closing one frees a slot for a new connection.
    assert!(served(&mut held[0]).await);
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut s = within("connect", TcpStream::connect(gw.addr))
            .await
            .unwrap();
        if served(&mut s).await {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed after a close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_per_ip_cap_refuses_a_flood_from_one_address() {
    // 300 connections at once from 127.0.0.1 against the defaults (256 per address, 10,000 in
    // all): at most 256 are served, the others are closed.
    let (gw, _echo) = start("{ idle_timeout: 30s }").await;
    let mut conns = Vec::new();
    for _ in 0..300 {
        conns.push(
            within("connect", TcpStream::connect(gw.addr))
                .await
                .unwrap(),
        );
    }
    // Each connection asks once and is kept open (served or not) until all have an answer.
    let mut tasks = tokio::task::JoinSet::new();
    for mut s in conns {
        tasks.spawn(async move { (served(&mut s).await, s) });
    }
    let mut ok = 0;
    let mut kept = Vec::new();
    while let Some(done) = within("300 requests", tasks.join_next()).await {
        let (served, s) = done.unwrap();
        ok += usize::from(served);
        kept.push(s);
    }
    assert_eq!(ok, 256, "served of 300");
    assert_eq!(refused(&gw, "per_ip_limit"), 44);
}

/// A raw upstream that never answers: for each connection it sends everything it read once the
/// gateway closes it (or after 10 s).
async fn spawn_silent_upstream() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut chunk = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(10), async {
                    while let Ok(n @ 1..) = stream.read(&mut chunk).await {
                        seen.extend_from_slice(&chunk[..n]);
                    }
                })
                .await;
                let _ = tx.send(seen);
            });
        }
    });
    (addr, rx)
}

async fn start_slow_body(limits: &str, upstream: SocketAddr, retry: bool) -> TestGateway {
    let retry = if retry { "\n    retry: true" } else { "" };
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n    limits: {limits}\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\n    timeouts: {{ per_try: 20s }}{retry}\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n"
    );
    TestGateway::start(&yaml).await
}

/// Sends a request head and part of its body, then stalls; returns what came back before the
/// gateway closed the connection, and how long that took.
async fn stall_mid_body(gw: &TestGateway, method: &str, chunked: bool) -> (String, Duration) {
    let mut s = within("connect", TcpStream::connect(gw.addr))
        .await
        .unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab"
    } else {
        "Content-Length: 100\r\n\r\nhello"
    };
    let req = format!("{method} /upload HTTP/1.1\r\nHost: gw.test\r\n{framing}");
    s.write_all(req.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "connection still open after 5 s");
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalling_mid_body_gets_408_and_the_upstream_request_is_aborted() {
    let (upstream, mut seen) = spawn_silent_upstream().await;
    let gw = start_slow_body("{ body_read_timeout: 500ms }", upstream, false).await;
    for chunked in [false, true] {
        let (raw, elapsed) = stall_mid_body(&gw, "POST", chunked).await;
        assert_problem(&raw, 408);
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        // The upstream got the head and what the client sent, then its connection was closed
        // (long before its own 20 s timeout).
        let got = within("upstream connection closed", seen.recv())
            .await
            .expect("upstream saw the request");
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("POST /upload HTTP/1.1\r\n"), "{got}");
        assert!(got.contains("hello"), "{got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_on_a_retried_route_is_408_before_the_upstream() {
    // With retries the body is first read into the retry buffer: the read timeout applies there.
    let (upstream, mut seen) = spawn_silent_upstream().await;
    let gw = start_slow_body("{ body_read_timeout: 500ms }", upstream, true).await;
    let (raw, elapsed) = stall_mid_body(&gw, "PUT", false).await;
    assert_problem(&raw, 408);
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(seen.try_recv().is_err(), "the upstream was contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_body_passes() {
    let (gw, echo) = start("{ body_read_timeout: 500ms }").await;
    let mut s = within("connect", TcpStream::connect(gw.addr))
        .await
        .unwrap();
    s.write_all(
        b"POST /x HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    // 5 bytes, 250 ms apart: 1.25 s in all, never 500 ms without a byte.
    for b in b"abcde" {
        tokio::time::sleep(Duration::from_millis(250)).await;
        s.write_all(&[*b]).await.unwrap();
    }
    let resp = within("response", read_response(&mut s))
        .await
        .expect("a response");
    assert_eq!(status_of(&resp), 200, "{resp}");
    assert_eq!(echo.hits(), 1);
}
