//! gRPC end to end: a tonic client → the gateway (h2c) → an HTTP/2 upstream → the testkit's
//! `test.Echo` service.

use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, config};
use gatehouse_testkit::{
    GRPC_FAIL, GRPC_TRAILER, grpc_count, grpc_say, grpc_say_with_metadata, spawn_grpc,
};

const T: Duration = Duration::from_secs(10);

async fn gateway_to_grpc() -> (TestGateway, gatehouse_testkit::Upstream) {
    let upstream = spawn_grpc().await;
    let gw = TestGateway::start(&config(
        &[upstream.addr],
        "    protocol: http2\n",
        "routes:\n  - name: grpc\n    match: { path: { prefix: /test.Echo } }\n    upstream: backend\n",
    ))
    .await;
    (gw, upstream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_reply_and_trailers_pass_through() {
    let (gw, upstream) = gateway_to_grpc().await;
    let (reply, trailers) = tokio::time::timeout(T, grpc_say(gw.addr, "hello"))
        .await
        .expect("Say timed out")
        .expect("Say through the gateway");
    assert_eq!(reply.message, "hello");
    assert_eq!(
        trailers.get("grpc-status").and_then(|v| v.to_str().ok()),
        Some("0"),
        "trailers: {trailers:?}"
    );
    assert_eq!(
        trailers.get(GRPC_TRAILER.0).and_then(|v| v.to_str().ok()),
        Some(GRPC_TRAILER.1),
        "trailers: {trailers:?}"
    );
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_streaming_yields_every_message() {
    let (gw, _upstream) = gateway_to_grpc().await;
    let n = 50;
    let (seen, trailers) = tokio::time::timeout(T, grpc_count(gw.addr, n))
        .await
        .expect("Count timed out")
        .expect("Count through the gateway");
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    assert_eq!(
        trailers.get(GRPC_TRAILER.0).and_then(|v| v.to_str().ok()),
        Some(GRPC_TRAILER.1),
        "trailers: {trailers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_status_passes_through_with_its_message() {
    let (gw, _upstream) = gateway_to_grpc().await;
    let status = tokio::time::timeout(T, grpc_say(gw.addr, GRPC_FAIL))
        .await
        .expect("Say timed out")
        .expect_err("Say(fail) must fail");
    // gRPC code 5 = NOT_FOUND (the tonic type is not named: no direct tonic dependency).
    assert_eq!(i32::from(status.code()), 5, "status: {status:?}");
    assert_eq!(status.message(), "fail", "status: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_metadata_reaches_the_server() {
    let (gw, _upstream) = gateway_to_grpc().await;
    let (reply, _) = tokio::time::timeout(
        T,
        grpc_say_with_metadata(gw.addr, "meta", &[("x-tenant", "acme")]),
    )
    .await
    .expect("Say timed out")
    .expect("Say through the gateway");
    assert_eq!(reply.message, "meta");
    assert!(
        reply.seen_metadata.iter().any(|l| l == "x-tenant: acme"),
        "seen: {:?}",
        reply.seen_metadata
    );
}
