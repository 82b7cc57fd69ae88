//! Each test upstream exercised directly, without the gateway.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::*;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http1() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn h2c() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

async fn send(client: &HttpClient, req: Request<Full<Bytes>>) -> Response<Incoming> {
    client.request(req).await.expect("request failed")
}

async fn get(client: &HttpClient, url: &str) -> Response<Incoming> {
    send(client, Request::get(url).body(Full::default()).unwrap()).await
}

async fn body_bytes(response: Response<Incoming>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

async fn json(response: Response<Incoming>) -> Value {
    serde_json::from_slice(&body_bytes(response).await).expect("JSON body")
}

// === echo ===

#[tokio::test]
async fn echo_describes_the_request() {
    let up = spawn_echo().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/some/path?a=1&b=2", up.url()))
        .header("x-multi", "one")
        .header("x-multi", "two")
        .body(Full::new(Bytes::from_static(b"hello body")))
        .unwrap();
    let response = send(&http1(), req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let echo = json(response).await;
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/some/path");
    assert_eq!(echo["query"], "a=1&b=2");
    assert_eq!(echo["uri"], "/some/path?a=1&b=2");
    assert_eq!(echo["version"], "HTTP/1.1");
    assert_eq!(
        echo["headers"]["x-multi"],
        serde_json::json!(["one", "two"])
    );
    assert_eq!(echo["body"], "hello body");
    assert_eq!(echo["body_len"], 10);
    assert_eq!(echo["server"], up.addr.to_string());
    assert_eq!((up.hits(), up.connections()), (1, 1));
}

#[tokio::test]
async fn echo_counts_hits_and_connections() {
    let up = spawn_echo().await;
    let client = http1();
    for _ in 0..3 {
        let response = get(&client, &up.url()).await;
        body_bytes(response).await;
    }
    // One pooled keep-alive connection, three requests.
    assert_eq!((up.hits(), up.connections()), (3, 1));
    let other = http1();
    body_bytes(get(&other, &up.url()).await).await;
    assert_eq!((up.hits(), up.connections()), (4, 2));
}

#[tokio::test]
async fn echo_speaks_h2c_too() {
    let up = spawn_echo().await;
    let response = get(&h2c(), &format!("{}/x", up.url())).await;
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(json(response).await["version"], "HTTP/2.0");
}

#[tokio::test]
async fn echo_status_path() {
    let up = spawn_echo().await;
    let response = get(&http1(), &format!("{}/status/418", up.url())).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(json(response).await["path"], "/status/418");
    let response = get(&http1(), &format!("{}/status/nope", up.url())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn echo_big_streams_in_chunks() {
    let up = spawn_echo().await;
    let n = 3 * BIG_CHUNK + 123;
    let response = get(&http1(), &format!("{}/big/{n}", up.url())).await;
    assert_eq!(response.headers()["content-length"], n.to_string().as_str());
    let mut body = response.into_body();
    let (mut total, mut frames) = (0, 0);
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        assert!(data.iter().all(|&b| b == b'x'));
        total += data.len();
        frames += 1;
    }
    assert_eq!(total, n);
    assert!(frames >= 4, "expected several frames, got {frames}");
}

#[tokio::test]
async fn echo_sets_requested_response_headers() {
    let up = spawn_echo().await;
    let url = format!(
        "{}/headers?set=x-foo:bar&set=keep-alive:timeout%3D5&set=x-foo:baz&set=x-sp:a+b",
        up.url()
    );
    let response = get(&http1(), &url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let foo: Vec<_> = response.headers().get_all("x-foo").iter().collect();
    assert_eq!(foo, ["bar", "baz"]);
    assert_eq!(response.headers()["keep-alive"], "timeout=5");
    assert_eq!(response.headers()["x-sp"], "a b");
    let response = get(&http1(), &format!("{}/headers?set=nocolon", up.url())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn echo_slow_body_pauses_between_chunks() {
    let up = spawn_echo().await;
    let start = Instant::now();
    let response = get(&http1(), &format!("{}/slow-body/800", up.url())).await;
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first\n");
    assert!(start.elapsed() < Duration::from_millis(600));
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "rest\n");
    assert!(start.elapsed() >= Duration::from_millis(800));
}

#[tokio::test]
async fn h2_echo_is_http2_only() {
    let up = spawn_h2_echo().await;
    let response = get(&h2c(), &up.url()).await;
    assert_eq!(json(response).await["version"], "HTTP/2.0");
    let http1_attempt = http1()
        .request(Request::get(up.url()).body(Full::default()).unwrap())
        .await;
    assert!(http1_attempt.is_err(), "HTTP/1.1 must be refused");
}

// === faults ===

#[tokio::test]
async fn slow_delays_the_response_head() {
    let up = spawn_slow(Duration::from_millis(300)).await;
    let client = http1();
    let early = tokio::time::timeout(Duration::from_millis(100), get(&client, &up.url())).await;
    assert!(early.is_err(), "head must not arrive before the delay");
    let start = Instant::now();
    let response = get(&client, &up.url()).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["path"], "/");
}

#[tokio::test]
async fn failing_always_answers_its_status() {
    let up = spawn_failing(503).await;
    for path in ["/", "/anything?x=1"] {
        let response = get(&http1(), &format!("{}{path}", up.url())).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_bytes(response).await, "upstream failing with 503\n");
    }
    assert_eq!(up.hits(), 2);
}

#[tokio::test]
async fn reset_mid_body_breaks_the_body() {
    let up = spawn_reset_mid_body().await;
    let response = get(&http1(), &format!("{}/file", up.url())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let announced = RESET_ANNOUNCED_LEN.to_string();
    assert_eq!(response.headers()["content-length"], announced.as_str());
    let mut body = response.into_body();
    let mut received = 0;
    let error = loop {
        match body.frame().await {
            Some(Ok(frame)) => received += frame.into_data().unwrap().len(),
            Some(Err(e)) => break e,
            None => panic!("body ended cleanly after {received} bytes"),
        }
    };
    assert_eq!(received, RESET_SENT_LEN, "error: {error}");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn flaky_health_flips_at_runtime() {
    let (up, switch) = spawn_flaky_health().await;
    let client = http1();
    let health = format!("{}{HEALTH_PATH}", up.url());
    assert_eq!(get(&client, &health).await.status(), StatusCode::OK);
    switch.set_health(503);
    let response = get(&client, &health).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(response).await["status"], 503);
    // Other paths keep echoing.
    let response = get(&client, &format!("{}/api", up.url())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["path"], "/api");
    switch.set_health(200);
    assert_eq!(get(&client, &health).await.status(), StatusCode::OK);
    assert_eq!((switch.checks(), up.hits(), switch.health()), (3, 4, 200));
}

#[tokio::test]
async fn dropping_the_upstream_stops_it() {
    let up = spawn_echo().await;
    let addr = up.addr;
    drop(up);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

// === gRPC ===

#[tokio::test]
async fn grpc_say_echoes_with_trailers_and_metadata() {
    let up = spawn_grpc().await;
    let (reply, trailers) = grpc_say_with_metadata(up.addr, "hi", &[("x-custom", "v1")])
        .await
        .unwrap();
    assert_eq!(reply.message, "hi");
    assert!(
        reply.seen_metadata.contains(&"x-custom: v1".to_owned()),
        "{:?}",
        reply.seen_metadata
    );
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    assert_eq!(trailers.get(GRPC_TRAILER.0).unwrap(), GRPC_TRAILER.1);
    // A full URI works too.
    let (reply, _) = grpc_say(up.url(), "again").await.unwrap();
    assert_eq!(reply.message, "again");
    assert_eq!(up.hits(), 2);
}

#[tokio::test]
async fn grpc_errors_pass_their_status() {
    let up = spawn_grpc().await;
    let status = grpc_say(up.addr, GRPC_FAIL).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::NotFound, "fail")
    );
    let status = grpc_say(up.addr, "fail:14").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
}

#[tokio::test]
async fn grpc_count_streams() {
    let up = spawn_grpc().await;
    let (seen, trailers) = grpc_count(up.addr, 5).await.unwrap();
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    assert_eq!(trailers.get(GRPC_TRAILER.0).unwrap(), GRPC_TRAILER.1);
    let (seen, _) = grpc_count(up.addr, 0).await.unwrap();
    assert!(seen.is_empty());
}

#[tokio::test]
async fn grpc_unknown_method_is_unimplemented() {
    let up = spawn_grpc().await;
    let req = Request::post(format!("{}/test.Echo/Nope", up.url()))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::default())
        .unwrap();
    let response = send(&h2c(), req).await;
    assert_eq!(response.headers()["grpc-status"], "12");
}

#[tokio::test]
async fn grpc_connect_failure_is_unavailable() {
    let status = grpc_say(format!("127.0.0.1:{}", free_port()), "x")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
}

// === WebSocket ===

#[tokio::test]
async fn websocket_echoes_and_reports_its_handshake() {
    let up = spawn_websocket_echo().await;
    let url = up.ws_url("/chat?room=1");
    assert_eq!(ws_roundtrip(&url, "hello ws").await.unwrap(), "hello ws");
    let handshake: Value =
        serde_json::from_str(&ws_roundtrip(&url, WS_REQUEST_PROBE).await.unwrap()).unwrap();
    assert_eq!(handshake["path"], "/chat");
    assert_eq!(handshake["headers"]["upgrade"][0], "websocket");
    assert_eq!((up.hits(), up.connections()), (2, 2));
}

#[tokio::test]
async fn websocket_client_rejects_non_ws_urls() {
    assert!(ws_roundtrip("http://127.0.0.1:1/", "x").await.is_err());
}

// === require_server ===

#[test]
fn require_server_finds_programs_on_path() {
    assert!(require_server("sh"));
}

#[test]
fn require_server_skips_or_panics_when_missing() {
    let missing = "gatehouse-no-such-program";
    if std::env::var(REQUIRE_SERVERS_ENV).as_deref() == Ok("1") {
        assert!(std::panic::catch_unwind(|| require_server(missing)).is_err());
    } else {
        assert!(!require_server(missing));
    }
}
