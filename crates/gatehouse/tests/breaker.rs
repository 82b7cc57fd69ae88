//! Circuit breakers end to end: a failing target is skipped once its breaker opens and probed
//! back in after the cool-down; an open cluster fails fast with 503 + `Retry-After`; the state
//! and transitions show in the metrics.
//!
//! The targets are echo upstreams whose `/healthz` answers a switchable status, so requests to
//! `/healthz` through the gateway fail (503) or succeed (200) per target; each target's switch
//! counts the requests it served. Passive health is off so only the breakers act.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatehouse_testkit::gateway::{TestGateway, config, get, within};
use gatehouse_testkit::{Fault, spawn_echo, spawn_failing, spawn_faulty, spawn_flaky_health};

async fn start(targets: &[SocketAddr], breaker: &str) -> TestGateway {
    let upstream = format!("    passive_health: false\n    circuit_breaker: {breaker}");
    let routes =
        "routes:\n  - name: all\n    match: { path: { prefix: / } }\n    upstream: backend\n";
    TestGateway::start(&config(targets, &upstream, routes)).await
}

/// `GET /metrics` on the admin listener.
async fn metrics(gw: &TestGateway) -> String {
    let admin = gw.admin.expect("admin listener");
    let r = get(&format!("http://{admin}/metrics"), &[]).await;
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The value of the sample line starting with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_target_is_skipped_then_probed_back_in() {
    let (a, a_switch) = spawn_flaky_health().await;
    let (b, b_switch) = spawn_flaky_health().await;
    b_switch.set_health(503);
    let gw = start(
        &[a.addr, b.addr],
        "{ consecutive_failures: 3, failure_ratio: 0, cool_down: 1s, half_open_probes: 2 }",
    )
    .await;
    let url = gw.url("/healthz");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(get(&url, &[]).await.status.as_u16());
    }
    // B served exactly 3 failures, then its breaker opened and A took everything else.
    assert_eq!(b_switch.checks(), 3, "{statuses:?}");
    assert_eq!(a_switch.checks(), 17, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 3);
    assert!(statuses[6..].iter().all(|s| *s == 200), "{statuses:?}");
    let m = metrics(&gw).await;
    let b_state = format!(
        "gatehouse_upstream_circuit_state{{cluster=\"backend\",target=\"{}\"}}",
        b.addr
    );
    let a_state = format!(
        "gatehouse_upstream_circuit_state{{cluster=\"backend\",target=\"{}\"}}",
        a.addr
    );
    assert_eq!(sample(&m, &b_state), Some(2.0), "{m}");
    assert_eq!(sample(&m, &a_state), Some(0.0), "{m}");
    let opened = "gatehouse_upstream_circuit_transitions_total{cluster=\"backend\",to=\"open\"}";
    assert_eq!(sample(&m, opened), Some(1.0), "{m}");

    // B recovers; after the cool-down, probes reach it and close its breaker.
    b_switch.set_health(200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let before = (a_switch.checks(), b_switch.checks());
    for _ in 0..10 {
        assert_eq!(get(&url, &[]).await.status, 200);
    }
    let served_b = b_switch.checks() - before.1;
    let served_a = a_switch.checks() - before.0;
    assert!(
        served_b >= 4,
        "B probed back into rotation: a={served_a} b={served_b}"
    );
    let m = metrics(&gw).await;
    assert_eq!(sample(&m, &b_state), Some(0.0), "{m}");
    let closed = "gatehouse_upstream_circuit_transitions_total{cluster=\"backend\",to=\"closed\"}";
    let half = "gatehouse_upstream_circuit_transitions_total{cluster=\"backend\",to=\"half_open\"}";
    assert_eq!(sample(&m, closed), Some(1.0), "{m}");
    assert_eq!(sample(&m, half), Some(1.0), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_cluster_fails_fast_with_retry_after() {
    let up = spawn_failing(500).await;
    let gw = start(
        &[up.addr],
        "{ consecutive_failures: 2, failure_ratio: 0, cool_down: 30s }",
    )
    .await;
    let url = gw.url("/x");
    assert_eq!(get(&url, &[]).await.status, 500);
    assert_eq!(get(&url, &[]).await.status, 500);
    let started = Instant::now();
    let r = get(&url, &[]).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((25..=30).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.json()["status"], 503);
    // The upstream saw only the two requests that opened the breaker.
    for _ in 0..5 {
        assert_eq!(get(&url, &[]).await.status, 503);
    }
    assert_eq!(up.hits(), 2);
    let m = metrics(&gw).await;
    let cluster = "gatehouse_upstream_circuit_state{cluster=\"backend\",target=\"*\"}";
    assert_eq!(sample(&m, cluster), Some(2.0), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_ratio_opens_only_past_the_minimum_volume() {
    // One target failing every other request: never 3 in a row, but half of the window.
    let (a, a_switch) = spawn_flaky_health().await;
    let gw = start(
        &[a.addr],
        "{ consecutive_failures: 0, failure_ratio: 0.5, window: 10s, min_requests: 6, cool_down: 30s }",
    )
    .await;
    let url = gw.url("/healthz");
    for i in 0..5 {
        a_switch.set_health(if i % 2 == 0 { 200 } else { 500 });
        let _ = get(&url, &[]).await;
    }
    // 5 requests, 2 failed: below the minimum volume, still closed.
    a_switch.set_health(500);
    assert_eq!(
        get(&url, &[]).await.status,
        500,
        "6th request reaches the target"
    );
    // 6 requests, 3 failed = 0.5: open.
    let r = get(&url, &[]).await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    assert_eq!(a_switch.checks(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_open_the_target_breaker() {
    let a = spawn_echo().await;
    let dead = spawn_faulty(Fault::Refuse).await;
    let gw = start(
        &[a.addr, dead.addr],
        "{ consecutive_failures: 2, failure_ratio: 0, cool_down: 30s }",
    )
    .await;
    let url = gw.url("/x");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(get(&url, &[]).await.status.as_u16());
    }
    // At most the two connect failures that opened the dead target's breaker reach the client.
    assert!(
        statuses.iter().filter(|s| **s != 200).count() <= 2,
        "{statuses:?}"
    );
    assert!(statuses[6..].iter().all(|s| *s == 200), "{statuses:?}");
    let m = metrics(&gw).await;
    let state = format!(
        "gatehouse_upstream_circuit_state{{cluster=\"backend\",target=\"{}\"}}",
        dead.addr
    );
    assert_eq!(sample(&m, &state), Some(2.0), "{m}");
    assert_eq!(a.hits(), statuses.iter().filter(|s| **s == 200).count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_survives_a_reload_that_keeps_its_upstream() {
    let a = spawn_echo().await;
    let dead = spawn_faulty(Fault::Refuse).await;
    let gw = start(
        &[a.addr, dead.addr],
        "{ consecutive_failures: 2, failure_ratio: 0, cool_down: 30s }",
    )
    .await;
    let url = gw.url("/x");
    // Alternating with the healthy target: the dead one opens after its 2nd refusal, the
    // cluster (never 2 failures in a row) stays closed.
    for _ in 0..6 {
        let _ = get(&url, &[]).await;
    }
    let state = format!(
        "gatehouse_upstream_circuit_state{{cluster=\"backend\",target=\"{}\"}}",
        dead.addr
    );
    assert_eq!(sample(&metrics(&gw).await, &state), Some(2.0));
    // Change only the routes: the cluster, its breakers included, is carried over.
    let yaml = std::fs::read_to_string(gw.config_path()).expect("config");
    let yaml = yaml.replace("name: all", "name: everything");
    std::fs::write(gw.config_path(), yaml).expect("write config");
    let r = gw.reloader.clone();
    let reloaded = within(
        "reload",
        tokio::task::spawn_blocking(move || r.reload("test")),
    )
    .await
    .expect("reload task");
    assert_eq!(reloaded.ok(), Some(2));
    for _ in 0..6 {
        assert_eq!(
            get(&url, &[]).await.status,
            200,
            "the dead target stays skipped"
        );
    }
    assert_eq!(sample(&metrics(&gw).await, &state), Some(2.0));
}
