//! Load balancing and health end to end: weighted round robin, consistent hashing, least request,
//! active health checks and passive ejection. The echo reports its own address (`server`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, TestGateway, get, http_client, within};
use gatehouse_testkit::{spawn_echo, spawn_failing, spawn_flaky_health};
use http_body_util::{BodyExt, Full};

/// One upstream `backend` with `targets` (address, weight) and `extra` YAML under it.
async fn start(targets: &[(SocketAddr, u32)], extra: &str) -> TestGateway {
    let targets: Vec<String> = targets
        .iter()
        .map(|(a, w)| format!("{{ address: \"{a}\", weight: {w} }}"))
        .collect();
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [{}]\n{extra}\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n",
        targets.join(", ")
    );
    TestGateway::start(&yaml).await
}

/// The echo's address that served a 200, or `None` for any other status.
fn served_by(r: &Reply) -> Option<String> {
    (r.status == 200).then(|| r.json()["server"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_round_robin_splits_exactly() {
    let a = spawn_echo().await;
    let b = spawn_echo().await;
    let gw = start(&[(a.addr, 2), (b.addr, 1)], "    balance: round_robin").await;
    let mut count: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        let r = get(&gw.url("/x"), &[]).await;
        *count.entry(served_by(&r).expect("200")).or_default() += 1;
    }
    assert_eq!(count.get(&a.addr.to_string()), Some(&20), "{count:?}");
    assert_eq!(count.get(&b.addr.to_string()), Some(&10), "{count:?}");
    assert_eq!((a.hits(), b.hits()), (20, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_keeps_a_user_on_one_target() {
    let ups = [spawn_echo().await, spawn_echo().await, spawn_echo().await];
    let targets: Vec<_> = ups.iter().map(|u| (u.addr, 1)).collect();
    let gw = start(
        &targets,
        "    balance: { policy: consistent_hash, key: \"header:x-session-id\" }",
    )
    .await;
    let mut used = std::collections::HashSet::new();
    for user in 0..20 {
        let id = format!("user-{user}");
        let first = served_by(&get(&gw.url("/x"), &[("x-session-id", &id)]).await).unwrap();
        for _ in 0..4 {
            let again = served_by(&get(&gw.url("/x"), &[("x-session-id", &id)]).await).unwrap();
            assert_eq!(again, first, "{id} moved");
        }
        used.insert(first);
    }
    assert!(used.len() >= 2, "20 users all on one target: {used:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_request_avoids_a_busy_target() {
    let a = spawn_echo().await;
    let b = spawn_echo().await;
    let gw = start(&[(a.addr, 1), (b.addr, 1)], "    balance: least_request").await;
    // A request whose body takes 3 s: its target has one request in flight meanwhile.
    let req = http::Request::get(gw.url("/slow-body/3000"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let slow = within("slow head", http_client().request(req))
        .await
        .unwrap();
    assert_eq!(slow.status(), 200);
    let busy = if a.hits() == 1 { a.addr } else { b.addr };
    for _ in 0..10 {
        let r = get(&gw.url("/x"), &[]).await;
        let by = served_by(&r).unwrap();
        assert_ne!(by, busy.to_string(), "sent to the busy target");
    }
    let body = within("slow body", slow.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"first\nrest\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_health_checks_steer_traffic() {
    let (a, switch_a) = spawn_flaky_health().await;
    let (b, switch_b) = spawn_flaky_health().await;
    let gw = start(
        &[(a.addr, 1), (b.addr, 1)],
        "    health_check: { path: /healthz, interval: 100ms, timeout: 100ms, healthy_threshold: 1, unhealthy_threshold: 1 }",
    )
    .await;
    let (a_s, b_s) = (a.addr.to_string(), b.addr.to_string());

    // Both healthy: both serve.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        seen.insert(served_by(&get(&gw.url("/x"), &[]).await).unwrap());
    }
    assert_eq!(seen.len(), 2, "{seen:?}");

    // A fails its checks: within ~1 s only B serves.
    switch_a.set_health(500);
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut in_a_row = 0;
    while in_a_row < 5 {
        assert!(
            Instant::now() < deadline,
            "A still served 1.5 s after failing"
        );
        let by = served_by(&get(&gw.url("/x"), &[]).await).unwrap();
        in_a_row = if by == b_s { in_a_row + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..20 {
        let by = served_by(&get(&gw.url("/x"), &[]).await).unwrap();
        assert_eq!(by, b_s, "unhealthy target still served");
    }

    // Both fail: 503.
    switch_b.set_health(500);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = get(&gw.url("/x"), &[]).await;
        if r.status == 503 {
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            break;
        }
        assert!(Instant::now() < deadline, "never 503 ({})", r.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Back to healthy: served again, by both.
    switch_a.set_health(200);
    switch_b.set_health(200);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 {
        assert!(Instant::now() < deadline, "not served again: {seen:?}");
        if let Some(by) = served_by(&get(&gw.url("/x"), &[]).await) {
            seen.insert(by);
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(seen.contains(&a_s) && seen.contains(&b_s));
    assert!(switch_a.checks() > 0 && switch_b.checks() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_ejection_after_consecutive_failures() {
    let bad = spawn_failing(500).await;
    let good = spawn_echo().await;
    let gw = start(
        &[(bad.addr, 1), (good.addr, 1)],
        "    passive_health: { consecutive_failures: 3, ejection_time: 1s }",
    )
    .await;
    // Round robin alternates: after 6 requests the bad target has failed 3 times in a row.
    let mut failures = 0;
    for _ in 0..6 {
        let r = get(&gw.url("/x"), &[]).await;
        if r.status == 500 {
            failures += 1;
        }
    }
    assert_eq!(failures, 3);
    assert_eq!(bad.hits(), 3);
    // Ejected: everything goes to the good target.
    for _ in 0..10 {
        let r = get(&gw.url("/x"), &[]).await;
        assert_eq!(r.status, 200, "ejected target still served");
    }
    assert_eq!(bad.hits(), 3);
    // After the ejection time it gets traffic again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..4 {
        get(&gw.url("/x"), &[]).await;
    }
    assert!(bad.hits() > 3, "never readmitted");
}
