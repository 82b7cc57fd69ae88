//! `rate_limit` with a Redis that is up but slow (`CLIENT PAUSE`, real `redis-server`): for each
//! `on_failure` mode, the request that meets the slow Redis is answered after the default 20 ms
//! decision timeout (bounded generously: < 500 ms), the mode decides, and the circuit breaker
//! then keeps every following request away from Redis (counted with `INFO commandstats`).

use std::time::{Duration, Instant};

use gatehouse_testkit::gateway::{TestGateway, get, within};
use gatehouse_testkit::redis::RedisServer;
use gatehouse_testkit::spawn_echo;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;

/// How long Redis is paused.
const PAUSE: Duration = Duration::from_millis(1_500);

fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = gatehouse_testkit::redis::redis_command("redis-cli")
        .args(["-p", &redis.port().to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Script calls (`EVALSHA` + `EVAL`) Redis executed since the last `CONFIG RESETSTAT`.
fn script_calls(redis: &RedisServer) -> u64 {
    let info = redis_cli(redis, &["INFO", "commandstats"]);
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1))
        .filter_map(|rest| rest.split(',').next()?.parse::<u64>().ok())
        .sum()
}

/// Runs 10 requests while Redis is paused; returns their statuses.
async fn slow_redis(mode: &str) -> Vec<u16> {
    let Some(redis) = gatehouse_testkit::redis::spawn_redis() else {
        return Vec::new();
    };
    let echo = spawn_echo().await;
    // Default timeout (20 ms); the circuit stays open for the whole test once it opens.
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}store: {{ redis: {{ url: "{}", on_failure: {mode}, retry_after: 30s }} }}
upstreams:
  backend:
    targets: ["{}"]
routes:
  - name: r
    match: {{ path: {{ prefix: / }} }}
    upstream: backend
    plugins:
      - rate_limit: {{ limits: [{{ requests: 100, per: 1m }}], key: [client_ip] }}
"#,
        redis.url(),
        echo.addr
    );
    let gw = TestGateway::start(&yaml).await;
    // Warm up: the script is loaded and the connection open.
    assert_eq!(within("warm-up", get(&gw.url("/"), &[])).await.status, 200);
    assert!(
        script_calls(&redis) >= 1,
        "the warm-up decision ran no script"
    );
    redis_cli(&redis, &["CONFIG", "RESETSTAT"]);
    let paused_at = Instant::now();
    redis_cli(&redis, &["CLIENT", "PAUSE", &PAUSE.as_millis().to_string()]);
    let mut statuses = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        let reply = within("request", get(&gw.url("/"), &[])).await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "{mode}: request {i} took {took:?} with Redis paused"
        );
        if reply.status == 503 {
            assert_eq!(
                reply.header("content-type"),
                Some("application/problem+json")
            );
            assert_eq!(reply.header("retry-after"), Some("30"));
        }
        statuses.push(reply.status.as_u16());
    }
    assert!(
        paused_at.elapsed() < PAUSE,
        "{mode}: the requests outlasted the pause; the test proves nothing"
    );
    // Once Redis answers again, count what reached it: only the request that opened the circuit.
    tokio::time::sleep(PAUSE.saturating_sub(paused_at.elapsed()) + Duration::from_millis(300))
        .await;
    let calls = script_calls(&redis);
    assert!(
        calls <= 1,
        "{mode}: {calls} script calls reached Redis; the breaker should have stopped all but one"
    );
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_fail_open_allows_within_the_timeout() {
    let statuses = slow_redis("fail_open").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_fail_closed_refuses_within_the_timeout() {
    let statuses = slow_redis("fail_closed").await;
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_local_decides_in_process_within_the_timeout() {
    let statuses = slow_redis("local").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}
