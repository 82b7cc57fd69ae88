//! End-to-end proxying: what reaches the upstream, what comes back, and the errors the gateway
//! generates itself. In-process gateway, real upstreams on 127.0.0.1:0.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, TestGateway, config, get, http_client, send, within};
use gatehouse_testkit::{
    free_port, require_server, spawn_echo, spawn_failing, spawn_h2_echo, spawn_reset_mid_body,
    spawn_slow,
};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

const CATCH_ALL: &str =
    "routes:\n  - name: all\n    match: { path: { prefix: / } }\n    upstream: backend\n";

/// The values of one request header as the echo saw it.
fn seen(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Asserts a gateway-generated problem+json error with `status`, whose `request_id` is the one
/// echoed in `x-request-id`, and which leaks no upstream address.
fn assert_problem(reply: &Reply, status: u16, hidden_port: Option<u16>) -> Value {
    let body = String::from_utf8_lossy(&reply.body).into_owned();
    assert_eq!(reply.status.as_u16(), status, "body: {body}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "body: {body}"
    );
    let v = reply.json();
    assert_eq!(v["status"], status);
    let id = reply
        .header("x-request-id")
        .expect("x-request-id echoed on errors (request_id plugin)");
    assert_eq!(v["request_id"], id, "request_id of the body = echoed id");
    if let Some(port) = hidden_port {
        assert!(
            !body.contains(&format!("127.0.0.1:{port}")),
            "error body leaks the upstream address: {body}"
        );
    }
    assert!(
        !body.to_lowercase().contains("error:"),
        "internal detail: {body}"
    );
    v
}

const ECHO_ID: &str = "plugins:\n  - request_id: { echo_in_response: true }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_and_query_reach_the_upstream_normalized() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(&[echo.addr], "", CATCH_ALL)).await;
    let r = get(&gw.url("/a/./b/../c//d?x=1&y=%20z"), &[]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["path"], "/a/c/d");
    assert_eq!(v["query"], "x=1&y=%20z");
    assert_eq!(echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_removed_both_ways() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(&[echo.addr], "", CATCH_ALL)).await;

    // Request side: `Connection: x-secret` names x-secret as hop-by-hop.
    let r = get(
        &gw.url("/req"),
        &[
            ("connection", "x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    for h in ["x-secret", "keep-alive", "proxy-connection", "connection"] {
        assert!(seen(&v, h).is_empty(), "{h} reached the upstream: {v}");
    }
    assert_eq!(seen(&v, "x-kept"), ["yes"]);

    // Response side. First check the upstream really sends them (directly).
    let q = "/headers?set=connection:x-internal&set=x-internal:1&set=keep-alive:timeout%3D5&set=x-public:ok";
    let direct = get(&format!("{}{q}", echo.url()), &[]).await;
    assert_eq!(direct.header("x-internal"), Some("1"), "precondition");
    assert!(direct.header("keep-alive").is_some(), "precondition");
    let r = get(&gw.url(q), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-public"), Some("ok"));
    assert!(r.header("x-internal").is_none(), "{:?}", r.headers);
    assert!(r.header("keep-alive").is_none(), "{:?}", r.headers);
    for v in r.headers.get_all("connection") {
        assert!(
            !v.to_str().unwrap_or("").contains("x-internal"),
            "{:?}",
            r.headers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn via_and_forwarded_headers() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(&[echo.addr], "", CATCH_ALL)).await;
    let r = get(&gw.url("/x"), &[("x-forwarded-for", "6.6.6.6")]).await;
    assert_eq!(r.status, 200);
    let via = r.header("via").expect("Via on the response");
    assert!(via.contains("gatehouse"), "{via}");
    let v = r.json();
    let via_up = seen(&v, "via");
    assert!(
        via_up.iter().any(|s| s == "1.1 gatehouse"),
        "Via upstream: {via_up:?}"
    );
    // The peer (127.0.0.1) is not a trusted proxy: the spoofed value is replaced.
    assert_eq!(seen(&v, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen(&v, "x-forwarded-proto"), ["http"]);
    assert_eq!(seen(&v, "x-forwarded-host"), [gw.addr.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_appended_from_a_trusted_proxy() {
    let echo = spawn_echo().await;
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  enabled: false\nserver:\n  watch: false\n  trusted_proxies: [127.0.0.1/32]\nupstreams:\n  backend:\n    targets: [\"{}\"]\n{CATCH_ALL}",
        echo.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let r = get(
        &gw.url("/x"),
        &[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(seen(&v, "x-forwarded-for"), ["6.6.6.6, 127.0.0.1"]);
    assert_eq!(seen(&v, "x-forwarded-proto"), ["https"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_generated_propagated_or_replaced() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(&[echo.addr], "", CATCH_ALL)).await;

    let r = get(&gw.url("/x"), &[]).await;
    let ids = seen(&r.json(), "x-request-id");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(is_uuid(&ids[0]), "generated id {:?}", ids[0]);

    let r = get(&gw.url("/x"), &[("x-request-id", "client-id_42.abc")]).await;
    assert_eq!(seen(&r.json(), "x-request-id"), ["client-id_42.abc"]);

    let long = "a".repeat(300);
    let r = get(&gw.url("/x"), &[("x-request-id", &long)]).await;
    let ids = seen(&r.json(), "x-request-id");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(is_uuid(&ids[0]), "malformed id replaced, got {:?}", ids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_a_404_problem() {
    let echo = spawn_echo().await;
    let routes = format!(
        "routes:\n  - name: api\n    match: {{ path: {{ prefix: /api }} }}\n    upstream: backend\n{ECHO_ID}"
    );
    let gw = TestGateway::start(&config(&[echo.addr], "", &routes)).await;
    let r = get(&gw.url("/nope"), &[]).await;
    let v = assert_problem(&r, 404, Some(echo.addr.port()));
    assert!(is_uuid(v["request_id"].as_str().unwrap()));
    // A client id is the one in the error.
    let r = get(&gw.url("/nope"), &[("x-request-id", "mine-1")]).await;
    let v = assert_problem(&r, 404, None);
    assert_eq!(v["request_id"], "mine-1");
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_a_502_problem() {
    let port = free_port();
    let dead: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let routes = format!("{CATCH_ALL}{ECHO_ID}");
    let gw = TestGateway::start(&config(&[dead], "    timeouts: { connect: 1s }", &routes)).await;
    let r = get(&gw.url("/x"), &[]).await;
    assert_problem(&r, 502, Some(port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_upstream_is_a_502_problem() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"this is not HTTP at all\r\n\r\n").await;
                let _ = s.shutdown().await;
            });
        }
    });
    let routes = format!("{CATCH_ALL}{ECHO_ID}");
    let gw = TestGateway::start(&config(&[addr], "", &routes)).await;
    let r = get(&gw.url("/x"), &[]).await;
    assert_problem(&r, 502, Some(addr.port()));
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_body_never_looks_like_a_complete_response() {
    let up = spawn_reset_mid_body().await;
    let gw = TestGateway::start(&config(&[up.addr], "", CATCH_ALL)).await;
    let req = http::Request::get(gw.url("/x"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    // The head (200, Content-Length 1000) is already forwarded when the reset happens, so the
    // gateway cannot turn it into a 502; the client must see a broken body, not a short success.
    match within("reset", send(&http_client(), req)).await {
        Err(_) => {}
        Ok(r) if r.status == 502 => {
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
        }
        Ok(r) => panic!(
            "complete response after an upstream reset: {} with {} body bytes",
            r.status,
            r.body.len()
        ),
    }
    assert_eq!(up.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_unhealthy_is_a_503_problem() {
    let failing = spawn_failing(500).await;
    let extra = "    health_check: { path: /healthz, interval: 100ms, timeout: 100ms, healthy_threshold: 1, unhealthy_threshold: 1 }";
    let routes = format!("{CATCH_ALL}{ECHO_ID}");
    let gw = TestGateway::start(&config(&[failing.addr], extra, &routes)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(&gw.url("/x"), &[]).await;
        if r.status == 503 {
            assert_problem(&r, 503, Some(failing.addr.port()));
            break;
        }
        assert!(Instant::now() < deadline, "never 503, last {}", r.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_timeout_is_a_504_problem() {
    let slow = spawn_slow(Duration::from_secs(2)).await;
    let routes = format!("{CATCH_ALL}{ECHO_ID}");
    let gw = TestGateway::start(&config(
        &[slow.addr],
        "    timeouts: { request: 200ms }",
        &routes,
    ))
    .await;
    let started = Instant::now();
    let r = get(&gw.url("/x"), &[]).await;
    let elapsed = started.elapsed();
    assert_problem(&r, 504, Some(slow.addr.port()));
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrites_are_observed_by_the_upstream() {
    let echo = spawn_echo().await;
    let routes = r#"routes:
  - name: strip
    match: { path: { prefix: /strip } }
    upstream: backend
    rewrite: { strip_prefix: true }
  - name: replace
    match: { path: { prefix: /old } }
    upstream: backend
    rewrite: { replace_prefix: /new/v2 }
  - name: regex
    match: { path: { prefix: /re } }
    upstream: backend
    rewrite: { regex: "^/re/([a-z]+)/([0-9]+)$", replacement: "/items/$2/by/$1" }
"#;
    let gw = TestGateway::start(&config(&[echo.addr], "", routes)).await;
    let cases = [
        ("/strip/users/1?q=2", "/users/1", Some("q=2")),
        ("/strip", "/", None),
        ("/old/things", "/new/v2/things", None),
        ("/re/alice/42", "/items/42/by/alice", None),
    ];
    for (from, path, query) in cases {
        let r = get(&gw.url(from), &[]).await;
        assert_eq!(r.status, 200, "{from}");
        let v = r.json();
        assert_eq!(v["path"], path, "{from}");
        assert_eq!(v["query"].as_str(), query, "{from}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_header_preserved_or_target_address() {
    let echo = spawn_echo().await;
    let routes = r#"routes:
  - name: keep
    match: { path: { prefix: /keep } }
    upstream: backend
  - name: target
    match: { path: { prefix: /target } }
    upstream: backend
    preserve_host: false
"#;
    let gw = TestGateway::start(&config(&[echo.addr], "", routes)).await;
    let r = get(&gw.url("/keep"), &[("host", "api.example.com")]).await;
    assert_eq!(seen(&r.json(), "host"), ["api.example.com"]);
    let r = get(&gw.url("/target"), &[("host", "api.example.com")]).await;
    let v = r.json();
    assert_eq!(seen(&v, "host"), [echo.addr.to_string()]);
    assert_eq!(seen(&v, "x-forwarded-host"), ["api.example.com"]);
}

fn h2_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
> {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_client_to_http1_and_http2_upstreams() {
    let echo = spawn_echo().await;
    let h2 = spawn_h2_echo().await;
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  one:\n    targets: [\"{}\"]\n  two:\n    targets: [\"{}\"]\n    protocol: http2\nroutes:\n  - name: one\n    match: {{ path: {{ prefix: /one }} }}\n    upstream: one\n  - name: two\n    match: {{ path: {{ prefix: /two }} }}\n    upstream: two\n",
        echo.addr, h2.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let client = h2_client();
    for (path, upstream_version) in [("/one", "HTTP/1.1"), ("/two", "HTTP/2.0")] {
        let req = http::Request::get(gw.url(path))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = within(path, client.request(req)).await.expect("h2 request");
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let body = within(path, resp.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["version"], upstream_version, "{path}");
        assert_eq!(v["path"], path);
    }
    assert_eq!(echo.hits(), 1);
    assert_eq!(h2.hits(), 1);

    if require_server("curl") {
        let url = gw.url("/two/curl");
        let out = within(
            "curl",
            tokio::task::spawn_blocking(move || {
                std::process::Command::new("curl")
                    .args([
                        "-sS",
                        "--max-time",
                        "10",
                        "--http2-prior-knowledge",
                        "-w",
                        "\n%{http_version} %{http_code}",
                        &url,
                    ])
                    .output()
                    .expect("run curl")
            }),
        )
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, tail) = text.rsplit_once('\n').expect("curl output");
        assert_eq!(tail, "2 200", "curl: {text}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["version"], "HTTP/2.0");
        assert_eq!(v["path"], "/two/curl");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_mebibytes_stream_both_ways() {
    const N: usize = 10 * 1024 * 1024;
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(&[echo.addr], "", CATCH_ALL)).await;

    let req = http::Request::get(gw.url(&format!("/big/{N}")))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = within("big response", send(&http_client(), req))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), N);
    assert!(resp.body.iter().all(|&b| b == b'x'));

    let req = http::Request::post(gw.url("/upload"))
        .body(Full::new(Bytes::from(vec![b'y'; N])))
        .unwrap();
    let resp = within("big request", send(&http_client(), req))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["body_len"], N);
}
