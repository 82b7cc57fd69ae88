//! Upstream retries end to end, against fault-injecting upstreams: what is retried (listed
//! failures, idempotent methods or an `Idempotency-Key`, replayable bodies), on which target,
//! `Retry-After`, the retry budget, and the retry metrics.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_metrics::Format;
use gatehouse_testkit::gateway::{Reply, TestGateway, config, get, http_client, send, within};
use gatehouse_testkit::{Fault, in_flight, settle_in_flight, spawn_echo, spawn_faulty};
use http_body_util::Full;

/// A gateway with one route `r` to the cluster `backend` of `targets`, passive health off (so a
/// failing target stays selectable), `upstream` appended under `backend`.
async fn gateway(targets: &[SocketAddr], upstream: &str) -> TestGateway {
    let extra = format!("    passive_health: false\n{upstream}");
    let routes = "routes:\n  - name: r\n    upstream: backend\n";
    TestGateway::start(&config(targets, &extra, routes)).await
}

/// Retries with a 1 ms backoff base so tests do not wait.
fn retry(attempts: u32, extra: &str) -> String {
    format!("    retry: {{ attempts: {attempts}, backoff: {{ base: 1ms, max: 5ms }}{extra} }}\n")
}

/// A request with `method`, optional `Idempotency-Key` and `body`.
async fn request(gw: &TestGateway, method: &str, key: Option<&str>, body: &'static str) -> Reply {
    let mut req = http::Request::builder().method(method).uri(gw.url("/x"));
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let req = req.body(Full::new(Bytes::from_static(body.as_bytes())));
    let req = req.expect("request");
    within("request", send(&http_client(), req))
        .await
        .expect("response")
}

/// The gateway's metrics in Prometheus text.
fn metrics(gw: &TestGateway) -> String {
    gw.gateway.metrics().render(Format::Prometheus)
}

fn burst(failures: usize, retry_after: Option<u64>) -> Fault {
    Fault::Burst {
        failures,
        status: 503,
        retry_after,
    }
}

#[tokio::test]
async fn a_503_is_retried_and_the_retry_succeeds() {
    let up = spawn_faulty(burst(1, None)).await;
    let gw = gateway(&[up.addr], &retry(2, "")).await;
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ok");
    assert_eq!(up.attempts(), 2);
    let m = metrics(&gw);
    assert!(
        m.contains(r#"gatehouse_upstream_retries_total{cluster="backend",reason="status"} 1"#),
        "{m}"
    );
    assert_eq!(in_flight(&gw), 0);
}

#[tokio::test]
async fn when_attempts_run_out_the_last_5xx_is_returned() {
    let up = spawn_faulty(burst(100, None)).await;
    let gw = gateway(&[up.addr], &retry(3, "")).await;
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 503);
    assert_eq!(up.attempts(), 3);
    // The retried responses were drained: their connection went back to the pool and was reused.
    assert_eq!(
        up.settle_open_connections(1, Duration::from_secs(2)).await,
        1
    );
    assert_eq!(in_flight(&gw), 0);
}

#[tokio::test]
async fn without_retry_config_a_failure_is_tried_once() {
    let up = spawn_faulty(burst(100, None)).await;
    let gw = gateway(&[up.addr], "").await;
    assert_eq!(get(&gw.url("/x"), &[]).await.status, 503);
    assert_eq!(up.attempts(), 1);
}

#[tokio::test]
async fn a_reset_before_the_head_is_retried_on_the_other_target() {
    let bad = spawn_faulty(Fault::ResetBeforeHead).await;
    let good = spawn_faulty(burst(0, None)).await;
    let gw = gateway(&[bad.addr, good.addr], &retry(2, "")).await;
    for _ in 0..4 {
        assert_eq!(get(&gw.url("/x"), &[]).await.status, 200);
    }
    // Round robin sends two of the four first tries to the bad target; each is retried on the
    // good one, never on the bad one again.
    assert_eq!(bad.attempts(), 2);
    assert_eq!(good.attempts(), 4);
    let m = metrics(&gw);
    assert!(
        m.contains(r#"gatehouse_upstream_retries_total{cluster="backend",reason="reset"} 2"#),
        "{m}"
    );
    assert_eq!(
        bad.settle_open_connections(0, Duration::from_secs(2)).await,
        0
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_on_the_other_target() {
    let dead = spawn_faulty(Fault::Refuse).await;
    let good = spawn_faulty(burst(0, None)).await;
    let gw = gateway(&[dead.addr, good.addr], &retry(2, "")).await;
    for _ in 0..4 {
        assert_eq!(get(&gw.url("/x"), &[]).await.status, 200);
    }
    assert_eq!(good.attempts(), 4);
    let m = metrics(&gw);
    assert!(
        m.contains(
            r#"gatehouse_upstream_retries_total{cluster="backend",reason="connect_error"} 2"#
        ),
        "{m}"
    );
}

#[tokio::test]
async fn post_is_sent_once_without_an_idempotency_key_and_retried_with_one() {
    let up = spawn_faulty(burst(100, None)).await;
    let gw = gateway(&[up.addr], &retry(3, "")).await;
    let reply = request(&gw, "POST", None, "order=1").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        up.attempts(),
        1,
        "a POST without Idempotency-Key was repeated"
    );
    let reply = request(&gw, "POST", Some("k-1"), "order=1").await;
    assert_eq!(reply.status, 503);
    assert_eq!(up.attempts(), 4);
}

#[tokio::test]
async fn a_retried_body_reaches_the_next_target_intact() {
    let bad = spawn_faulty(Fault::ResetBeforeHead).await;
    let echo = spawn_echo().await;
    let gw = gateway(&[bad.addr, echo.addr], &retry(2, "")).await;
    for i in 0..2 {
        let reply = request(&gw, "PUT", None, "the whole body").await;
        assert_eq!(reply.status, 200, "request {i}");
        let json = reply.json();
        assert_eq!(json["body"], "the whole body", "request {i}");
        assert_eq!(json["method"], "PUT");
    }
    assert_eq!(bad.attempts(), 1);
}

#[tokio::test]
async fn a_body_beyond_buffer_body_is_streamed_and_never_retried() {
    let up = spawn_faulty(burst(100, None)).await;
    let gw = gateway(&[up.addr], &retry(3, ", buffer_body: 8")).await;
    let reply = request(&gw, "PUT", None, "more than eight bytes").await;
    assert_eq!(reply.status, 503);
    assert_eq!(up.attempts(), 1);
    // A body that fits is retried.
    let reply = request(&gw, "PUT", None, "short").await;
    assert_eq!(reply.status, 503);
    assert_eq!(up.attempts(), 4);
}

#[tokio::test]
async fn a_route_can_turn_retries_off() {
    let up = spawn_faulty(burst(100, None)).await;
    let extra = format!("    passive_health: false\n{}", retry(3, ""));
    let routes = "routes:\n  - name: r\n    upstream: backend\n    retry: false\n";
    let gw = TestGateway::start(&config(&[up.addr], &extra, routes)).await;
    assert_eq!(get(&gw.url("/x"), &[]).await.status, 503);
    assert_eq!(up.attempts(), 1);
}

#[tokio::test]
async fn retry_after_within_the_backoff_max_is_waited_for() {
    let up = spawn_faulty(burst(1, Some(1))).await;
    let gw = gateway(
        &[up.addr],
        "    retry: { attempts: 2, backoff: { base: 1ms, max: 2s } }\n",
    )
    .await;
    let started = Instant::now();
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(up.attempts(), 2);
    // The backoff alone would be ≤ 1 ms; Retry-After asked for 1 s.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_beyond_the_backoff_max_is_not_retried() {
    let up = spawn_faulty(burst(1, Some(30))).await;
    let gw = gateway(&[up.addr], &retry(3, "")).await;
    let started = Instant::now();
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("30"));
    assert_eq!(up.attempts(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_retry_budget_stops_a_retry_storm() {
    let up = spawn_faulty(burst(usize::MAX, None)).await;
    let budget = ", budget: { ratio: 0.2, window: 60s, min_retries: 3 }";
    let gw = gateway(&[up.addr], &retry(3, budget)).await;
    let requests = 40;
    for _ in 0..requests {
        assert_eq!(get(&gw.url("/x"), &[]).await.status, 503);
    }
    let retries = up.attempts() - requests;
    // Without a budget: 2 retries per request (80). With it: ≤ 20 % of requests + 3.
    assert!(retries <= requests / 5 + 3, "{retries} retries");
    assert!(retries >= 3, "min_retries not granted: {retries}");
    let m = metrics(&gw);
    let exhausted = m
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"gatehouse_upstream_retry_budget_exhausted_total{cluster="backend"} "#)
        })
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(exhausted.is_some_and(|n| n > 0), "{m}");
}

#[tokio::test]
async fn a_response_whose_body_breaks_is_not_retried() {
    let up = spawn_faulty(Fault::ResetMidBody).await;
    let gw = gateway(&[up.addr], &retry(3, "")).await;
    let req = http::Request::get(gw.url("/x"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let result = within("GET", send(&http_client(), req)).await;
    // The head (200) was passed on; the client then sees the body fail.
    assert!(result.is_err(), "a truncated body was read as complete");
    assert_eq!(up.attempts(), 1);
    assert_eq!(
        up.settle_open_connections(0, Duration::from_secs(2)).await,
        0
    );
    settle_in_flight(&gw).await;
}
