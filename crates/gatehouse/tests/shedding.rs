//! Load shedding end to end: past `max_in_flight` (or `max_memory`) new requests get 503 +
//! `Retry-After` problem+json at once, requests in flight finish normally, capacity comes back
//! when they end, and the admin listener keeps answering.

use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, config, get, within};
use gatehouse_testkit::spawn_slow;

const ROUTES: &str =
    "routes:\n  - name: all\n    match: { path: { prefix: / } }\n    upstream: backend\n";

/// `config()` with `load_shedding` added under its `server:` section.
fn with_shedding(targets: &[std::net::SocketAddr], shedding: &str) -> String {
    let yaml = config(targets, "", ROUTES);
    let server = "server:\n";
    assert!(yaml.contains(server));
    yaml.replacen(
        server,
        &format!("server:\n  load_shedding: {shedding}\n"),
        1,
    )
}

async fn shed_count(gw: &TestGateway, reason: &str) -> String {
    let admin = gw.admin.expect("admin listener");
    let r = get(&format!("http://{admin}/metrics"), &[]).await;
    let m = String::from_utf8_lossy(&r.body).into_owned();
    let series = format!("gatehouse_load_shed_total{{reason=\"{reason}\"}} ");
    m.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {series} in {m}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_max_in_flight_are_shed_until_capacity_returns() {
    let up = spawn_slow(Duration::from_millis(800)).await;
    let gw = TestGateway::start(&with_shedding(
        &[up.addr],
        "{ max_in_flight: 2, retry_after: 3s }",
    ))
    .await;
    let url = gw.url("/x");
    let held: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get(&url, &[]).await.status })
        })
        .collect();
    within("two requests in flight", async {
        while up.hits() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let r = get(&url, &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["detail"], "the gateway is overloaded; retry later");
    assert_eq!(up.hits(), 2, "the shed request never reached the upstream");
    // The admin listener is not shed.
    let admin = gw.admin.expect("admin listener");
    assert_eq!(get(&format!("http://{admin}/live"), &[]).await.status, 200);
    for h in held {
        assert_eq!(within("held request", h).await.expect("task"), 200);
    }
    assert_eq!(shed_count(&gw, "in_flight").await, "1");
    // Both finished: capacity is back.
    assert_eq!(get(&url, &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_over_the_limit_sheds_everything() {
    let up = spawn_slow(Duration::ZERO).await;
    // Any process, this test included, has more than 1 MiB resident.
    let gw = TestGateway::start(&with_shedding(&[up.addr], "{ max_memory: 1MiB }")).await;
    let r = get(&gw.url("/x"), &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"), "default retry_after");
    assert_eq!(up.hits(), 0);
    assert_eq!(shed_count(&gw, "memory").await, "1");
    assert_eq!(shed_count(&gw, "in_flight").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generous_limits_shed_nothing() {
    let up = spawn_slow(Duration::ZERO).await;
    let gw = TestGateway::start(&with_shedding(
        &[up.addr],
        "{ max_in_flight: 100, max_memory: 64GiB }",
    ))
    .await;
    for _ in 0..5 {
        assert_eq!(get(&gw.url("/x"), &[]).await.status, 200);
    }
    assert_eq!(up.hits(), 5);
}
