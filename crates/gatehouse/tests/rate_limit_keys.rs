//! `rate_limit` end to end: `key: [api_key]` counts each presented API key separately (two keys of
//! one consumer have their own limits), and a plan quota is counted once per request even when a
//! global and a route `rate_limit` both apply.
//!
//! Key hashes are computed with `sha256sum` (coreutils), not with the gateway's own code.

use std::net::SocketAddr;

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::spawn_echo;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;

/// A gateway with plan `metered` (3 requests per day), consumers alice (metered) and carol (no
/// plan), two API keys each, a global `rate_limit` of 100/min per consumer, and routes `/k` (2/min per API
/// key) and `/q` (the plan's limits: none, so only the quota).
async fn start(upstream: SocketAddr) -> TestGateway {
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}
upstreams:
  backend:
    targets: ["{upstream}"]
plans:
  metered: {{ quota: {{ requests: 3, per: day }} }}
consumers:
  - {{ id: alice, plan: metered, api_keys: [{{ sha256: "{}" }}, {{ sha256: "{}" }}] }}
  - {{ id: carol, api_keys: [{{ sha256: "{}" }}, {{ sha256: "{}" }}] }}
plugins:
  - rate_limit: {{ limits: [{{ requests: 100, per: 1m }}], key: [consumer] }}
routes:
  - name: k
    match: {{ path: {{ prefix: /k }} }}
    upstream: backend
    plugins:
      - key_auth: {{}}
      - rate_limit: {{ limits: [{{ requests: 2, per: 1m }}], key: [api_key, route] }}
  - name: q
    match: {{ path: {{ prefix: /q }} }}
    upstream: backend
    plugins:
      - key_auth: {{}}
      - rate_limit: {{ limits: plan, key: [consumer] }}
"#,
        sha256_hex_via_cli("alice-key-1"),
        sha256_hex_via_cli("alice-key-2"),
        sha256_hex_via_cli("carol-key-1"),
        sha256_hex_via_cli("carol-key-2"),
    );
    TestGateway::start(&yaml).await
}

async fn call(gw: &TestGateway, path: &str, key: &str) -> Reply {
    within("request", get(&gw.url(path), &[("x-api-key", key)])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_keys_of_one_consumer_have_separate_limits() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr).await;
    // carol has no plan quota: only the rate limits apply.
    for key in ["carol-key-1", "carol-key-2"] {
        for remaining in ["1", "0"] {
            let r = call(&gw, "/k", key).await;
            assert_eq!(r.status, 200, "{key}");
            assert_eq!(r.header("ratelimit-remaining"), Some(remaining), "{key}");
        }
        let r = call(&gw, "/k", key).await;
        assert_eq!(r.status, 429, "{key}: the third request of the same key");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_and_route_rate_limits_count_the_quota_once() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr).await;
    // Both plugins apply to `/q`; each request uses one unit of the 3-per-day quota.
    for remaining in ["2", "1", "0"] {
        let r = call(&gw, "/q", "alice-key-1").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-quota-limit"), Some("3"));
        assert_eq!(r.header("x-quota-remaining"), Some(remaining));
    }
    let r = call(&gw, "/q", "alice-key-2").await;
    assert_eq!(
        r.status, 429,
        "the quota is per consumer, over all its keys"
    );
    assert_eq!(r.header("x-quota-remaining"), Some("0"));
    assert!(r.header("retry-after").is_some());
}
