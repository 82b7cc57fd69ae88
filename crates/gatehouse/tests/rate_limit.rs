//! `rate_limit` end to end: the memory backend (429 + `Retry-After` + headers, per-consumer
//! counters, plan limits with an anonymous fallback), and — against a real `redis-server` — exact
//! limits across two gateway instances, each `on_failure` mode with Redis killed, and recovery.
//!
//! Key hashes are computed with `sha256sum` (coreutils), not with the gateway's own code.

use std::net::SocketAddr;
use std::process::Command;

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use gatehouse_testkit::{require_server, spawn_echo};

/// A gateway in front of `upstream` with `store` (YAML, may be empty), consumers alice and bob
/// (free), carol (pro), dave (enterprise), guest (no plan; the anonymous consumer of `/plan`), and
/// the routes:
/// - `/fixed`: 5 per 10 s by client IP, every header form;
/// - `/keyed`: key_auth, 3 per minute per consumer;
/// - `/plan`: key_auth (anonymous: guest), the consumer's plan, fallback 1 per minute.
async fn start(upstream: SocketAddr, store: &str) -> TestGateway {
    let key = |k: &str| sha256_hex_via_cli(k);
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}{store}
upstreams:
  backend:
    targets: ["{upstream}"]
plans:
  free: {{ limits: [{{ requests: 2, per: 1m }}] }}
  pro: {{ limits: [{{ requests: 4, per: 1m }}] }}
  enterprise: {{}}
consumers:
  - {{ id: alice, plan: free, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: bob, plan: free, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: carol, plan: pro, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: dave, plan: enterprise, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: guest }}
routes:
  - name: fixed
    match: {{ path: {{ prefix: /fixed }} }}
    upstream: backend
    plugins:
      - rate_limit: {{ limits: [{{ requests: 5, per: 10s }}], key: [client_ip], backend: memory, headers: {{ structured: true, x_ratelimit: true }} }}
  - name: keyed
    match: {{ path: {{ prefix: /keyed }} }}
    upstream: backend
    plugins:
      - key_auth: {{}}
      - rate_limit: {{ limits: [{{ requests: 3, per: 1m }}], key: [consumer], backend: memory }}
  - name: plan
    match: {{ path: {{ prefix: /plan }} }}
    upstream: backend
    auth: {{ anonymous: guest }}
    plugins:
      - key_auth: {{}}
      - rate_limit: {{ limits: {{ plan: {{ fallback: [{{ requests: 1, per: 1m }}] }} }}, key: [consumer], backend: memory }}
"#,
        key("alice-key"),
        key("bob-key"),
        key("carol-key"),
        key("dave-key"),
    );
    TestGateway::start(&yaml).await
}

fn as_key(k: &str) -> [(&str, &str); 1] {
    [("x-api-key", k)]
}

fn assert_429(r: &Reply, what: &str) {
    assert_eq!(r.status, 429, "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: Retry-After {:?}", r.header("retry-after")));
    assert!(retry >= 1, "{what}: Retry-After {retry}");
    assert_eq!(r.header("ratelimit-remaining"), Some("0"), "{what}");
}

/// Sends `n` requests and returns their statuses.
async fn statuses(url: &str, headers: &[(&str, &str)], n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(get(url, headers).await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn memory_sixth_request_is_429_with_retry_after_and_headers() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "").await;
    let url = gw.url("/fixed");
    for remaining in (0..5).rev() {
        let r = get(&url, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), Some("5"));
        assert_eq!(
            r.header("ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
        // Fully restored once the current window's count has slid out: at most two windows.
        assert!((1..=20).contains(&reset), "reset {reset}");
        assert_eq!(r.header("ratelimit-policy"), Some("\"5-per-10s\";q=5;w=10"));
        assert_eq!(
            r.header("ratelimit"),
            Some(format!("\"5-per-10s\";r={remaining};t={reset}").as_str())
        );
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
    }
    let r = get(&url, &[]).await;
    assert_429(&r, "6th request");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    // Sliding window: the earlier requests weigh on the next window too, so the wait may pass the
    // window's end (5 requests at t≈0 → allowed again at t=12 s), never two windows.
    assert!(retry <= 20, "Retry-After {retry}");
    assert_eq!(r.json()["status"], 429);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));

    // The same refusal, seen by curl.
    if require_server("curl") {
        let curl_url = url.clone();
        let out = within(
            "curl",
            tokio::task::spawn_blocking(move || {
                Command::new("curl")
                    .args([
                        "-sS",
                        "-D",
                        "-",
                        "-o",
                        "/dev/null",
                        "--max-time",
                        "10",
                        &curl_url,
                    ])
                    .output()
                    .expect("run curl")
            }),
        )
        .await
        .unwrap();
        let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 429"), "{head}");
        assert!(head.contains("\nretry-after: "), "{head}");
        assert!(head.contains("\nratelimit-remaining: 0"), "{head}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn memory_consumers_have_independent_counters() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "").await;
    let url = gw.url("/keyed");
    assert_eq!(
        statuses(&url, &as_key("alice-key"), 3).await,
        [200, 200, 200]
    );
    assert_429(&get(&url, &as_key("alice-key")).await, "alice 4th");
    // Bob, from the same IP, has his own counter.
    let r = get(&url, &as_key("bob-key")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ratelimit-remaining"), Some("2"));
    assert_eq!(statuses(&url, &as_key("bob-key"), 3).await, [200, 200, 429]);
    // Refused credentials are refused before counting anything.
    assert_eq!(get(&url, &as_key("nope")).await.status, 401);
}

#[tokio::test]
async fn memory_counters_survive_a_reload() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "").await;
    let url = gw.url("/keyed");
    assert_eq!(
        statuses(&url, &as_key("alice-key"), 3).await,
        [200, 200, 200]
    );
    // Reload a changed configuration (another route's limit changes): alice's counter is kept.
    let yaml = std::fs::read_to_string(gw.config_path()).unwrap();
    let changed = yaml.replace("requests: 5, per: 10s", "requests: 6, per: 10s");
    assert_ne!(yaml, changed);
    std::fs::write(gw.config_path(), changed).unwrap();
    let version = gw.reloader.reload("test").expect("reload");
    assert!(version >= 2);
    assert_429(&get(&url, &as_key("alice-key")).await, "alice after reload");
    // A changed `store:` (a Redis nobody listens on: connections are lazy) keeps the in-process
    // counters too.
    let yaml = std::fs::read_to_string(gw.config_path()).unwrap();
    let with_store = yaml.replace(
        "  watch: false\n",
        "  watch: false\nstore:\n  redis: { url: \"redis://127.0.0.1:1\" }\n",
    );
    assert_ne!(yaml, with_store);
    std::fs::write(gw.config_path(), with_store).unwrap();
    gw.reloader.reload("test").expect("reload with a store");
    assert_429(
        &get(&url, &as_key("alice-key")).await,
        "alice after the store changed",
    );
    assert_eq!(
        get(&gw.url("/fixed"), &[]).await.header("ratelimit-limit"),
        Some("6")
    );
}

#[tokio::test]
async fn memory_plan_limits_and_anonymous_fallback() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "").await;
    let url = gw.url("/plan");
    // free: 2/min.
    assert_eq!(
        statuses(&url, &as_key("alice-key"), 3).await,
        [200, 200, 429]
    );
    // pro: 4/min.
    assert_eq!(
        statuses(&url, &as_key("carol-key"), 5).await,
        [200, 200, 200, 200, 429]
    );
    // enterprise: unlimited, and no rate-limit headers.
    for _ in 0..10 {
        let r = get(&url, &as_key("dave-key")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-limit"), None);
    }
    // Anonymous (guest has no plan): the fallback, 1/min.
    let r = get(&url, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("ratelimit-limit"), Some("1"));
    assert_429(&get(&url, &[]).await, "anonymous 2nd");
}

/// A gateway sharing the Redis at `redis_url` (`on_failure` as given, timeout 50 ms), with `/shared`
/// limited to `requests` per `per` on one literal key through the Redis backend.
async fn start_redis(
    upstream: SocketAddr,
    redis_url: &str,
    on_failure: &str,
    requests: u64,
    per: &str,
) -> TestGateway {
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}store:
  redis: {{ url: "{redis_url}", timeout: 50ms, on_failure: {on_failure}, retry_after: 2s }}
upstreams:
  backend:
    targets: ["{upstream}"]
routes:
  - name: shared
    match: {{ path: {{ prefix: /shared }} }}
    upstream: backend
    plugins:
      - rate_limit: {{ limits: [{{ requests: {requests}, per: {per} }}], key: ["literal:one"], backend: redis }}
"#
    );
    TestGateway::start(&yaml).await
}

/// Waits, if needed, so that the next `margin` seconds stay inside one `window`-second window
/// aligned on the Unix epoch (a sliding window weighs the previous window's count).
async fn away_from_window_edge(window: u64, margin: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_secs() % window;
    if into + margin >= window {
        let wait = std::time::Duration::from_secs(window - into)
            - std::time::Duration::from_nanos(u64::from(now.subsec_nanos()));
        tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_two_gateways_allow_exactly_the_limit() {
    let Some(redis) = gatehouse_testkit::redis::spawn_redis() else {
        return;
    };
    let echo = spawn_echo().await;
    let a = start_redis(echo.addr, &redis.url(), "fail_closed", 30, "20s").await;
    let b = start_redis(echo.addr, &redis.url(), "fail_closed", 30, "20s").await;
    away_from_window_edge(20, 5).await;
    let urls = [a.url("/shared"), b.url("/shared")];
    let mut clients = Vec::new();
    for i in 0..20 {
        let url = urls[i % 2].clone();
        clients.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..3 {
                codes.push(get(&url, &[]).await.status.as_u16());
            }
            codes
        }));
    }
    let mut allowed = 0;
    let mut refused = 0;
    for c in clients {
        for code in within("client", c).await.unwrap() {
            match code {
                200 => allowed += 1,
                429 => refused += 1,
                other => panic!("unexpected status {other}"),
            }
        }
    }
    assert_eq!((allowed, refused), (30, 30));
    // Both instances see the shared counter exhausted.
    assert_429(&get(&urls[0], &[]).await, "gateway a after");
    assert_429(&get(&urls[1], &[]).await, "gateway b after");
}

/// Sends a request with Redis down and checks it is answered within the store timeout plus a
/// generous margin; returns the status.
async fn timed_status(url: &str) -> u16 {
    let started = std::time::Instant::now();
    let r = get(url, &[]).await;
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(3),
        "answered after {took:?} with Redis down"
    );
    if r.status == 503 {
        assert_eq!(r.header("retry-after"), Some("2"));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    r.status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_follows_on_failure() {
    let Some(mut redis) = gatehouse_testkit::redis::spawn_redis() else {
        return;
    };
    let echo = spawn_echo().await;
    let open = start_redis(echo.addr, &redis.url(), "fail_open", 3, "1m").await;
    let closed = start_redis(echo.addr, &redis.url(), "fail_closed", 3, "1m").await;
    let local = start_redis(echo.addr, &redis.url(), "local", 3, "1m").await;
    // Redis up: every gateway counts in Redis (one shared counter).
    assert_eq!(get(&open.url("/shared"), &[]).await.status, 200);
    redis.stop();
    for _ in 0..5 {
        assert_eq!(timed_status(&open.url("/shared")).await, 200, "fail_open");
    }
    for _ in 0..3 {
        assert_eq!(
            timed_status(&closed.url("/shared")).await,
            503,
            "fail_closed"
        );
    }
    // local: the same limit, counted in process from zero.
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(timed_status(&local.url("/shared")).await);
    }
    assert_eq!(codes, [200, 200, 200, 429], "local");

    // Redis back (empty): after the circuit's retry_after, fail_closed counts in Redis again.
    redis.restart();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while timed_status(&closed.url("/shared")).await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "limits did not resume after Redis came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(timed_status(&closed.url("/shared")).await);
    }
    assert_eq!(codes, [200, 200, 429], "fail_closed after recovery");
}
