//! Plan quotas end to end: the 4th request of a 3-per-day quota is refused (429 + Retry-After
//! until 00:00 UTC), the admin usage endpoint reports it, and — against a real `redis-server` —
//! two gateways share one count exactly.
//!
//! Key hashes are computed with `sha256sum` (coreutils), not with the gateway's own code.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::spawn_echo;

/// A gateway with an admin listener (token `secret`), plan `metered` (3 requests per day per
/// consumer), consumers alice and bob (metered) and carol (no plan), route `/q`.
async fn start(upstream: SocketAddr, store: &str) -> TestGateway {
    start_with(upstream, store, "day").await
}

/// [`start`] with the quota period `per`.
async fn start_with(upstream: SocketAddr, store: &str, per: &str) -> TestGateway {
    let yaml = format!(
        r#"listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
  token: secret
server:
  watch: false
{store}
upstreams:
  backend:
    targets: ["{upstream}"]
plans:
  metered: {{ quota: {{ requests: 3, per: {per}, scope: consumer }} }}
consumers:
  - {{ id: alice, plan: metered, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: bob, plan: metered, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: carol, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: q
    match: {{ path: {{ prefix: /q }} }}
    upstream: backend
    plugins:
      - key_auth: {{}}
      - rate_limit: {{ limits: plan, key: [consumer] }}
"#,
        sha256_hex_via_cli("alice-key"),
        sha256_hex_via_cli("bob-key"),
        sha256_hex_via_cli("carol-key"),
    );
    TestGateway::start(&yaml).await
}

async fn usage(gw: &TestGateway, consumer: &str) -> Reply {
    let admin = gw.admin.expect("admin listener");
    within(
        "usage",
        get(
            &format!("http://{admin}/admin/consumers/{consumer}/usage"),
            &[("authorization", "Bearer secret")],
        ),
    )
    .await
}

async fn call(gw: &TestGateway, key: &str) -> Reply {
    within("request", get(&gw.url("/q"), &[("x-api-key", key)])).await
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_fourth_request_is_refused_and_usage_reports_it() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "").await;
    for remaining in [2, 1, 0] {
        let r = call(&gw, "alice-key").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-quota-limit"), Some("3"));
        assert_eq!(
            r.header("x-quota-remaining"),
            Some(remaining.to_string().as_str())
        );
    }
    let r = call(&gw, "alice-key").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "Retry-After {retry}");
    // Until the next 00:00 UTC (allowing for a second passing in between).
    let to_midnight = 86_400 - now_unix() % 86_400;
    assert!(retry.abs_diff(to_midnight) <= 2, "{retry} vs {to_midnight}");
    assert_eq!(r.header("x-quota-reset"), Some(retry.to_string().as_str()));
    assert_eq!(r.header("x-quota-remaining"), Some("0"));

    // Bob has his own count; carol has no quota.
    assert_eq!(call(&gw, "bob-key").await.status, 200);
    for _ in 0..5 {
        let r = call(&gw, "carol-key").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-quota-limit"), None);
    }

    let u = usage(&gw, "alice").await;
    assert_eq!(u.status, 200);
    let body = u.json();
    assert_eq!(body["consumer"], "alice");
    assert_eq!(body["plan"], "metered");
    assert_eq!(body["quota"]["requests"], 3);
    assert_eq!(body["quota"]["period"], "day");
    assert_eq!(body["quota"]["used"], 3, "{body}");
    let resets = body["quota"]["resets_at_unix"].as_u64().unwrap();
    assert_eq!(resets % 86_400, 0);
    assert!(resets > now_unix() && resets <= now_unix() + 86_400);
    assert_eq!(usage(&gw, "bob").await.json()["quota"]["used"], 1);
    assert_eq!(
        usage(&gw, "carol").await.json()["quota"],
        serde_json::Value::Null
    );

    let missing = usage(&gw, "nobody").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    // Behind the admin token.
    let admin = gw.admin.unwrap();
    let denied = within(
        "usage",
        get(&format!("http://{admin}/admin/consumers/alice/usage"), &[]),
    )
    .await;
    assert_eq!(denied.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_reports_rolling_quotas() {
    let echo = spawn_echo().await;
    let gw = start_with(echo.addr, "", "rolling_day").await;
    for _ in 0..2 {
        assert_eq!(call(&gw, "alice-key").await.status, 200);
    }
    let before = now_unix();
    let body = usage(&gw, "alice").await.json();
    assert_eq!(body["quota"]["period"], "rolling_day");
    assert_eq!(body["quota"]["used"], 2, "{body}");
    // Nothing counted any more 24–25 hours after the current hour's requests.
    let resets = body["quota"]["resets_at_unix"].as_u64().unwrap();
    assert!(
        resets >= before + 24 * 3_600 && resets <= before + 25 * 3_600 + 2,
        "{resets} vs {before}"
    );
    assert_eq!(usage(&gw, "bob").await.json()["quota"]["used"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_two_gateways_share_the_quota_exactly() {
    let Some(redis) = gatehouse_testkit::redis::spawn_redis() else {
        return;
    };
    let echo = spawn_echo().await;
    let store = format!(
        "store: {{ redis: {{ url: \"{}\", timeout: 2s, on_failure: fail_closed }} }}",
        redis.url()
    );
    let a = start(echo.addr, &store).await;
    let b = start(echo.addr, &store).await;
    let mut clients = Vec::new();
    for i in 0..10 {
        let url = [a.url("/q"), b.url("/q")][i % 2].clone();
        clients.push(tokio::spawn(async move {
            within("request", get(&url, &[("x-api-key", "alice-key")]))
                .await
                .status
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for c in clients {
        codes.push(c.await.unwrap());
    }
    codes.sort_unstable();
    assert_eq!(codes, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    // Both gateways report the shared count.
    assert_eq!(usage(&a, "alice").await.json()["quota"]["used"], 3);
    assert_eq!(usage(&b, "alice").await.json()["quota"]["used"], 3);
}
