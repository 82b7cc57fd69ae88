//! `key_auth` end to end: keys of configured consumers and keys in a real `redis-server`
//! (cache TTL, revocation, expiry, Redis down with `serve_from_cache` and `deny`, restart),
//! credential and identity-header hygiene, and `gatehouse hash-key` against `sha256sum`.
//!
//! Key hashes are computed with `sha256sum` (coreutils), not with the gateway's own code.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::redis::{RedisServer, spawn_redis};
use gatehouse_testkit::spawn_echo;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use serde_json::Value;

const CHALLENGE: &str = "ApiKey realm=\"gatehouse\"";

async fn start(upstream: SocketAddr, key_auth: &str) -> TestGateway {
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  backend:
    targets: ["{upstream}"]
consumer_groups:
  - {{ name: partners, plan: pro, roles: [orders.read] }}
consumers:
  - {{ id: acme, tenant: acme-corp, groups: [partners], roles: [orders.write], api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: keyed
    match: {{ path: {{ prefix: /k }} }}
    upstream: backend
    plugins:
      - key_auth: {key_auth}
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
"#,
        sha256_hex_via_cli("config-key-1")
    );
    TestGateway::start(&yaml).await
}

fn header(echo: &Value, name: &str) -> Option<String> {
    echo["headers"][name]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn assert_401(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}");
    assert_eq!(r.header("www-authenticate"), Some(CHALLENGE), "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(r.json()["status"], 401, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_consumer_keys() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "{ query_param: api_key }").await;

    let r = get(
        &gw.url("/k/a"),
        &[("x-api-key", "config-key-1"), ("x-consumer-id", "evil")],
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(header(&seen, "x-consumer-id").as_deref(), Some("acme"));
    assert_eq!(header(&seen, "x-tenant-id").as_deref(), Some("acme-corp"));
    assert_eq!(header(&seen, "x-consumer-plan").as_deref(), Some("pro"));
    assert_eq!(
        header(&seen, "x-user-roles").as_deref(),
        Some("orders.write,orders.read")
    );
    assert_eq!(
        seen["headers"]["x-consumer-id"].as_array().unwrap().len(),
        1
    );
    assert!(seen["headers"].get("x-api-key").is_none(), "{seen}");

    let r = get(&gw.url("/k/b"), &[("authorization", "ApiKey config-key-1")]).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["headers"].get("authorization").is_none());

    let r = get(&gw.url("/k/c?x=1&api_key=config-key-1&y=2"), &[]).await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(seen["query"], "x=1&y=2", "{seen}");
    assert!(!seen["uri"].as_str().unwrap().contains("config-key-1"));

    assert_401(
        &get(&gw.url("/k/a"), &[("x-api-key", "wrong")]).await,
        "wrong key",
    );
    assert_401(&get(&gw.url("/k/a"), &[]).await, "no key");
    let r = get(&gw.url("/k/a"), &[("authorization", "Bearer config-key-1")]).await;
    assert_401(&r, "bearer is not an api key");

    // Spoofed identity headers are dropped on routes without authentication too.
    let r = get(
        &gw.url("/open"),
        &[("x-consumer-id", "acme"), ("x_tenant_id", "t")],
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert!(seen["headers"].get("x-consumer-id").is_none(), "{seen}");
    assert!(seen["headers"].get("x_tenant_id").is_none(), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_credential_forwards_the_key() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "{ keep_credential: true }").await;
    let r = get(&gw.url("/k"), &[("x-api-key", "config-key-1")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&r.json(), "x-api-key").as_deref(),
        Some("config-key-1")
    );
}

async fn hset(redis: &RedisServer, key: &str, fields: &[(&str, &str)]) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = within("redis connect", client.get_multiplexed_async_connection())
        .await
        .unwrap();
    let mut cmd = redis::cmd("HSET");
    cmd.arg(format!("apikey:{}", sha256_hex_via_cli(key)));
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    let _: i64 = within("HSET", cmd.query_async(&mut con)).await.unwrap();
}

async fn del(redis: &RedisServer, key: &str) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = within("redis connect", client.get_multiplexed_async_connection())
        .await
        .unwrap();
    let _: i64 = within(
        "DEL",
        redis::cmd("DEL")
            .arg(format!("apikey:{}", sha256_hex_via_cli(key)))
            .query_async(&mut con),
    )
    .await
    .unwrap();
}

fn redis_settings(redis: &RedisServer, on_error: &str) -> String {
    format!(
        "{{ redis: {{ url: \"{}\", timeout: 200ms, cache_ttl: 300ms, negative_ttl: 300ms, cache_size: 1000, on_error: {on_error} }} }}",
        redis.url()
    )
}

async fn status(gw: &TestGateway, key: &str) -> u16 {
    get(&gw.url("/k"), &[("x-api-key", key)])
        .await
        .status
        .as_u16()
}

const TTL_PASSED: Duration = Duration::from_millis(450);
/// Longer than the store's circuit (1 s after a Redis failure).
const CIRCUIT_PASSED: Duration = Duration::from_millis(1300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_cache_revocation_expiry_and_outage() {
    let Some(mut redis) = spawn_redis() else {
        return;
    };
    let echo = spawn_echo().await;
    let gw = start(echo.addr, &redis_settings(&redis, "serve_from_cache")).await;

    hset(
        &redis,
        "redis-key-1",
        &[
            ("consumer", "partner-9"),
            ("tenant", "t9"),
            ("plan", "gold"),
            ("roles", "a,b"),
        ],
    )
    .await;
    let r = get(&gw.url("/k"), &[("x-api-key", "redis-key-1")]).await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(header(&seen, "x-consumer-id").as_deref(), Some("partner-9"));
    assert_eq!(header(&seen, "x-tenant-id").as_deref(), Some("t9"));
    assert_eq!(header(&seen, "x-consumer-plan").as_deref(), Some("gold"));
    assert_eq!(header(&seen, "x-user-roles").as_deref(), Some("a,b"));
    assert!(seen["headers"].get("x-api-key").is_none());

    // Config consumers still work next to Redis.
    assert_eq!(status(&gw, "config-key-1").await, 200);

    // Revocation: still served from the cache within the TTL, refused after it.
    del(&redis, "redis-key-1").await;
    assert_eq!(status(&gw, "redis-key-1").await, 200);
    tokio::time::sleep(TTL_PASSED).await;
    assert_401(
        &get(&gw.url("/k"), &[("x-api-key", "redis-key-1")]).await,
        "revoked",
    );

    // Negative caching: a key added right after a miss is seen once the negative TTL passed.
    assert_eq!(status(&gw, "redis-key-2").await, 401);
    hset(&redis, "redis-key-2", &[("consumer", "late")]).await;
    tokio::time::sleep(TTL_PASSED).await;
    assert_eq!(status(&gw, "redis-key-2").await, 200);

    // Expired records are refused.
    hset(
        &redis,
        "redis-key-old",
        &[("consumer", "old"), ("expires_at", "1000")],
    )
    .await;
    assert_401(
        &get(&gw.url("/k"), &[("x-api-key", "redis-key-old")]).await,
        "expired",
    );
    hset(
        &redis,
        "redis-key-future",
        &[("consumer", "f"), ("expires_at", "4102444800")],
    )
    .await;
    assert_eq!(status(&gw, "redis-key-future").await, 200);

    // Redis down: cached keys keep working (even past their TTL), unknown ones get 503.
    redis.stop();
    assert_eq!(status(&gw, "redis-key-future").await, 200);
    tokio::time::sleep(TTL_PASSED).await;
    assert_eq!(status(&gw, "redis-key-future").await, 200);
    let r = get(&gw.url("/k"), &[("x-api-key", "never-seen")]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(status(&gw, "config-key-1").await, 200);

    // Redis back (empty): new records are found once the circuit has closed.
    redis.restart();
    hset(&redis, "redis-key-3", &[("consumer", "back")]).await;
    tokio::time::sleep(CIRCUIT_PASSED).await;
    let mut answered = 0;
    for _ in 0..20 {
        answered = status(&gw, "redis-key-3").await;
        if answered == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answered, 200, "redis-key-3 after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_with_deny() {
    let Some(mut redis) = spawn_redis() else {
        return;
    };
    let echo = spawn_echo().await;
    let gw = start(echo.addr, &redis_settings(&redis, "deny")).await;
    hset(&redis, "deny-key", &[("consumer", "d")]).await;
    assert_eq!(status(&gw, "deny-key").await, 200);
    redis.stop();
    tokio::time::sleep(TTL_PASSED).await;
    assert_eq!(status(&gw, "deny-key").await, 503);
    assert_eq!(status(&gw, "other-key").await, 503);
    assert_eq!(status(&gw, "config-key-1").await, 200);
}

#[test]
fn hash_key_matches_sha256sum() {
    let bin = env!("CARGO_BIN_EXE_gatehouse");
    for key in ["config-key-1", "k3y with spaces & ünïcode"] {
        let out = Command::new(bin).args(["hash-key", key]).output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", sha256_hex_via_cli(key))
        );

        let mut child = Command::new(bin)
            .arg("hash-key")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", sha256_hex_via_cli(key))
        );
    }
}

/// A Redis that accepts connections and never answers: lookups end at `timeout`, with a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_redis_times_out_with_503() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            conns.push(conn);
        }
    });
    let echo = spawn_echo().await;
    let settings = format!(
        "{{ redis: {{ url: \"redis://{addr}\", timeout: 100ms, on_error: serve_from_cache }} }}"
    );
    let gw = start(echo.addr, &settings).await;
    let started = std::time::Instant::now();
    assert_eq!(status(&gw, "some-key").await, 503);
    eprintln!("503 after {:?} (timeout 100ms)", started.elapsed());
    assert_eq!(status(&gw, "config-key-1").await, 200);
    held.abort();
}
