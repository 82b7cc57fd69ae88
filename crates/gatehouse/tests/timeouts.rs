//! Upstream timeouts end to end, against fault-injecting upstreams: per try, total across tries,
//! the route override, the deadline header, slow and broken bodies — each with the client's
//! status, the upstream's attempts, the elapsed time (generous bounds) and no connection or
//! in-flight request left behind.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_metrics::Format;
use gatehouse_testkit::gateway::{Reply, TestGateway, config, get, http_client, send, within};
use gatehouse_testkit::{Fault, Faulty, settle_in_flight, spawn_echo, spawn_faulty};
use http_body_util::Full;

/// A gateway with one route `r` (`route` YAML appended to it) to the cluster `backend`, passive
/// health off, `upstream` appended under `backend`.
async fn gateway(targets: &[SocketAddr], upstream: &str, route: &str) -> TestGateway {
    let extra = format!("    passive_health: false\n{upstream}");
    let routes = format!("routes:\n  - name: r\n    upstream: backend\n{route}");
    TestGateway::start(&config(targets, &extra, &routes)).await
}

fn timeouts_metric(gw: &TestGateway, kind: &str) -> u64 {
    let text = gw.gateway.metrics().render(Format::Prometheus);
    let prefix =
        format!(r#"gatehouse_upstream_timeouts_total{{cluster="backend",kind="{kind}"}} "#);
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {kind} timeouts in:\n{text}"))
}

/// `GET /x` through `gw`, with the time it took.
async fn timed_get(gw: &TestGateway) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = get(&gw.url("/x"), &[]).await;
    (reply, started.elapsed())
}

/// Asserts `min ≤ elapsed < max` (generous bounds: the machine is shared).
fn assert_between(elapsed: Duration, min: Duration, max: Duration) {
    assert!(
        elapsed >= min && elapsed < max,
        "{elapsed:?} not in [{min:?}, {max:?})"
    );
}

/// Asserts nothing is left behind: the upstream's connections close and no request is in flight.
async fn nothing_left_behind(gw: &TestGateway, up: &Faulty) {
    assert_eq!(
        up.settle_open_connections(0, Duration::from_secs(3)).await,
        0,
        "upstream connections left open"
    );
    settle_in_flight(gw).await;
}

#[tokio::test]
async fn a_hanging_upstream_times_out_per_try_and_is_retried() {
    let up = spawn_faulty(Fault::Hang).await;
    let upstream = "    timeouts: { per_try: 200ms }\n    retry: { attempts: 2, backoff: { base: 1ms, max: 5ms } }\n";
    let gw = gateway(&[up.addr], upstream, "").await;
    let (reply, elapsed) = timed_get(&gw).await;
    assert_eq!(reply.status, 504);
    assert_eq!(up.attempts(), 2);
    assert_between(elapsed, Duration::from_millis(390), Duration::from_secs(4));
    assert_eq!(timeouts_metric(&gw, "per_try"), 2);
    nothing_left_behind(&gw, &up).await;
}

#[tokio::test]
async fn the_total_timeout_bounds_all_tries() {
    let up = spawn_faulty(Fault::Hang).await;
    let upstream = "    timeouts: { per_try: 300ms, total: 500ms }\n    retry: { attempts: 5, backoff: { base: 1ms, max: 5ms } }\n";
    let gw = gateway(&[up.addr], upstream, "").await;
    let (reply, elapsed) = timed_get(&gw).await;
    assert_eq!(reply.status, 504);
    // 300 ms, then the ~200 ms left: two tries, not five.
    assert_eq!(up.attempts(), 2);
    assert_between(elapsed, Duration::from_millis(480), Duration::from_secs(3));
    assert_eq!(timeouts_metric(&gw, "per_try"), 1);
    assert_eq!(timeouts_metric(&gw, "total"), 1);
    nothing_left_behind(&gw, &up).await;
}

#[tokio::test]
async fn a_route_timeout_overrides_the_upstream_total() {
    let up = spawn_faulty(Fault::Hang).await;
    let gw = gateway(
        &[up.addr],
        "    timeouts: { per_try: 10s, total: 10s }\n",
        "    timeout: 150ms\n",
    )
    .await;
    let (reply, elapsed) = timed_get(&gw).await;
    assert_eq!(reply.status, 504);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_between(elapsed, Duration::from_millis(140), Duration::from_secs(3));
    assert_eq!(up.attempts(), 1);
    nothing_left_behind(&gw, &up).await;
}

#[tokio::test]
async fn a_slow_first_byte_within_per_try_passes_and_beyond_it_is_504() {
    let up = spawn_faulty(Fault::SlowFirstByte(Duration::from_millis(300))).await;
    let gw = gateway(&[up.addr], "    timeouts: { per_try: 3s }\n", "").await;
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ok");

    let gw = gateway(&[up.addr], "    timeouts: { per_try: 100ms }\n", "").await;
    let (reply, elapsed) = timed_get(&gw).await;
    assert_eq!(reply.status, 504);
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(up.attempts(), 2);
    // The timed-out try's connection is closed; only the first gateway's pooled one may remain.
    assert!(up.settle_open_connections(1, Duration::from_secs(3)).await <= 1);
}

#[tokio::test]
async fn a_slow_body_is_not_cut_by_the_head_timeouts() {
    // per_try bounds the time to the response head only; the body streams at its own pace.
    let fault = Fault::SlowBody {
        chunks: 4,
        interval: Duration::from_millis(60),
    };
    let up = spawn_faulty(fault).await;
    let gw = gateway(
        &[up.addr],
        "    timeouts: { per_try: 100ms, total: 100ms }\n",
        "",
    )
    .await;
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "ssss");
    assert_eq!(up.attempts(), 1);
}

#[tokio::test]
async fn a_short_body_behind_a_longer_content_length_fails_the_client_read() {
    let up = spawn_faulty(Fault::WrongContentLength).await;
    let gw = gateway(
        &[up.addr],
        "    retry: { attempts: 3, backoff: { base: 1ms, max: 5ms } }\n",
        "",
    )
    .await;
    let req = http::Request::get(gw.url("/x"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let result = within("GET", send(&http_client(), req)).await;
    assert!(result.is_err(), "a truncated body was read as complete");
    assert_eq!(up.attempts(), 1);
    nothing_left_behind(&gw, &up).await;
}

#[tokio::test]
async fn a_refused_connection_is_502() {
    let up = spawn_faulty(Fault::Refuse).await;
    let gw = gateway(&[up.addr], "    timeouts: { connect: 1s }\n", "").await;
    let (reply, elapsed) = timed_get(&gw).await;
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn the_deadline_header_carries_the_time_left_in_milliseconds() {
    let echo = spawn_echo().await;
    let gw = gateway(
        &[echo.addr],
        "    timeouts: { per_try: 5s, total: 800ms, deadline_header: x-gatehouse-timeout-ms }\n",
        "",
    )
    .await;
    let reply = get(&gw.url("/x"), &[("x-gatehouse-timeout-ms", "999999")]).await;
    assert_eq!(reply.status, 200);
    let json = reply.json();
    let values = json["headers"]["x-gatehouse-timeout-ms"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(values.len(), 1, "{json}");
    let ms: u64 = values[0].as_str().and_then(|v| v.parse().ok()).expect("ms");
    assert!((1..=800).contains(&ms), "{ms}");

    // Off by default: none is added.
    let gw = gateway(&[echo.addr], "", "").await;
    let json = get(&gw.url("/x"), &[]).await.json();
    assert!(
        json["headers"].get("x-gatehouse-timeout-ms").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn a_stalled_body_is_cut_after_the_body_timeout() {
    let fault = Fault::SlowBody {
        chunks: 3,
        interval: Duration::from_millis(400),
    };
    let up = spawn_faulty(fault).await;
    let gw = gateway(&[up.addr], "    timeouts: { body: 100ms }\n", "").await;
    let started = Instant::now();
    let req = http::Request::get(gw.url("/x"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let result = within("GET", send(&http_client(), req)).await;
    assert!(result.is_err(), "a stalled body was read as complete");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(up.attempts(), 1);
    assert_eq!(timeouts_metric(&gw, "body"), 1);
    nothing_left_behind(&gw, &up).await;

    // Chunks arriving faster than the body timeout pass.
    let fault = Fault::SlowBody {
        chunks: 3,
        interval: Duration::from_millis(20),
    };
    let up = spawn_faulty(fault).await;
    let gw = gateway(&[up.addr], "    timeouts: { body: 2s }\n", "").await;
    let reply = get(&gw.url("/x"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "sss");
}
