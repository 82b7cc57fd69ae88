//! Usage metering end to end: requests per consumer, route, status class and hour exported by
//! `GET /admin/usage` (JSON and CSV), in memory and — against a real `redis-server` — summed over
//! two gateways, kept while Redis is down and written after it restarts; the Prometheus family.
//!
//! Key hashes are computed with `sha256sum` (coreutils), not with the gateway's own code.

use std::net::SocketAddr;
use std::time::Duration;

use gatehouse_testkit::gateway::{Reply, TestGateway, http_client, send, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::spawn_echo;
use http_body_util::Full;
use serde_json::{Value, json};

/// A gateway with admin (token `secret`), consumers acme and zeta (key_auth) and guest
/// (anonymous), route `api` (`/status/...`, key_auth) and route `open` (`/open`, anonymous
/// guest), `usage:` with a long flush interval (flushes happen on export or on demand).
async fn start(upstream: SocketAddr, store: &str, usage: &str) -> TestGateway {
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
usage: {usage}
upstreams:
  backend:
    targets: ["{upstream}"]
consumers:
  - {{ id: acme, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: zeta, api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: guest }}
routes:
  - name: api
    match: {{ path: {{ prefix: /status }} }}
    upstream: backend
    plugins:
      - key_auth: {{}}
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
    auth: {{ anonymous: guest }}
"#,
        sha256_hex_via_cli("acme-key"),
        sha256_hex_via_cli("zeta-key"),
    );
    TestGateway::start(&yaml).await
}

async fn call(gw: &TestGateway, path: &str, key: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    within(
        "request",
        gatehouse_testkit::gateway::get(&gw.url(path), &headers),
    )
    .await
    .status
    .as_u16()
}

async fn admin(gw: &TestGateway, method: &str, path_and_query: &str, token: bool) -> Reply {
    let admin = gw.admin.expect("admin listener");
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{admin}{path_and_query}"));
    if token {
        req = req.header("authorization", "Bearer secret");
    }
    let req = req.body(Full::default()).unwrap();
    within("admin", send(&http_client(), req)).await.unwrap()
}

/// Rows without the hour, summed over hours (the test may straddle an hour boundary).
fn totals(body: &Value) -> Vec<(String, String, String, u64)> {
    let mut out: Vec<(String, String, String, u64)> = Vec::new();
    for r in body["rows"].as_array().expect("rows") {
        let key = (
            r["consumer"].as_str().unwrap().to_owned(),
            r["route"].as_str().unwrap().to_owned(),
            r["status_class"].as_str().unwrap().to_owned(),
        );
        let n = r["requests"].as_u64().unwrap();
        match out
            .iter_mut()
            .find(|(c, ro, s, _)| (c, ro, s) == (&key.0, &key.1, &key.2))
        {
            Some(row) => row.3 += n,
            None => out.push((key.0, key.1, key.2, n)),
        }
    }
    out.sort();
    out
}

/// The rendered Prometheus text has `requests` for `consumer` on route `api`, class `2xx`, and
/// `overflow` folded requests.
#[track_caller]
fn assert_prometheus(gw: &TestGateway, consumer: &str, requests: u64, overflow: u64) {
    let text = gw
        .gateway
        .metrics()
        .render(gatehouse_metrics::Format::Prometheus);
    let series = format!(
        "gatehouse_usage_requests_total{{consumer=\"{consumer}\",route=\"api\",status_class=\"2xx\"}} {requests}\n"
    );
    assert!(text.contains(&series), "{series} in {text}");
    let overflow = format!("gatehouse_usage_series_overflow_total {overflow}\n");
    assert!(text.contains(&overflow), "{overflow} in {text}");
}

fn row(c: &str, r: &str, s: &str, n: u64) -> (String, String, String, u64) {
    (c.to_owned(), r.to_owned(), s.to_owned(), n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_rows_per_consumer_route_and_status_class() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "", "{ backend: memory, flush_interval: 1h }").await;
    for path in ["/status/200", "/status/201", "/status/404", "/status/503"] {
        assert_eq!(
            call(&gw, path, Some("acme-key")).await.to_string(),
            path[8..]
        );
    }
    assert_eq!(call(&gw, "/status/200", Some("acme-key")).await, 200);
    assert_eq!(call(&gw, "/status/302", Some("zeta-key")).await, 302);
    // No consumer: not metered (401 without a key, 404 without a route).
    assert_eq!(call(&gw, "/status/200", Some("wrong-key")).await, 401);
    assert_eq!(call(&gw, "/nowhere", Some("acme-key")).await, 404);
    // The anonymous consumer counts under its id.
    assert_eq!(call(&gw, "/open", None).await, 200);

    let reply = admin(&gw, "GET", "/admin/usage", true).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(
        totals(&body),
        [
            row("acme", "api", "2xx", 3),
            row("acme", "api", "4xx", 1),
            row("acme", "api", "5xx", 1),
            row("guest", "open", "2xx", 1),
            row("zeta", "api", "3xx", 1),
        ],
        "{body}"
    );
    let hour = body["rows"][0]["hour"].as_str().unwrap();
    assert!(hour.ends_with(":00:00Z") && hour.len() == 20, "{hour}");

    // Filters and CSV.
    let csv = admin(&gw, "GET", "/admin/usage?consumer=zeta&format=csv", true).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = String::from_utf8(csv.body.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "hour,consumer,route,status_class,requests");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].ends_with(",zeta,api,3xx,1"), "{text}");

    // Prometheus, process-local cumulative.
    assert_prometheus(&gw, "acme", 3, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_refused_and_the_token_is_required() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "", "{ max_series: 1 }").await;
    for q in [
        "from=yesterday",
        "from=2026-11-22T12&to=2026-11-22T10",
        "format=xml",
        "consumr=acme",
        "consumer=%zz",
    ] {
        let r = admin(&gw, "GET", &format!("/admin/usage?{q}"), true).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(admin(&gw, "GET", "/admin/usage", false).await.status, 401);
    assert_eq!(
        admin(&gw, "POST", "/admin/usage/flush", false).await.status,
        401
    );
    let r = admin(&gw, "POST", "/admin/usage/flush", true).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "status": "flushed" }));

    // max_series 1: the second consumer folds into __other__ in Prometheus only.
    call(&gw, "/status/200", Some("acme-key")).await;
    call(&gw, "/status/200", Some("zeta-key")).await;
    assert_prometheus(&gw, "__other__", 1, 1);
    let body = admin(&gw, "GET", "/admin/usage", true).await.json();
    assert_eq!(
        totals(&body),
        [row("acme", "api", "2xx", 1), row("zeta", "api", "2xx", 1)]
    );
}

#[tokio::test]
async fn disabled_metering_answers_404() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "", "{ enabled: false }").await;
    let r = admin(&gw, "GET", "/admin/usage", true).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_two_gateways_sum_and_survive_a_redis_restart() {
    let Some(mut redis) = gatehouse_testkit::redis::spawn_redis() else {
        return;
    };
    let echo = spawn_echo().await;
    let store = format!(
        "store: {{ redis: {{ url: \"{}\", timeout: 200ms }} }}",
        redis.url()
    );
    // backend defaults to redis with store.redis.
    let a = start(echo.addr, &store, "{ flush_interval: 1h }").await;
    let b = start(echo.addr, &store, "{ flush_interval: 1h }").await;
    for _ in 0..3 {
        assert_eq!(call(&a, "/status/200", Some("acme-key")).await, 200);
    }
    for _ in 0..2 {
        assert_eq!(call(&b, "/status/200", Some("acme-key")).await, 200);
    }
    assert_eq!(call(&b, "/status/500", Some("zeta-key")).await, 500);
    assert_eq!(
        admin(&a, "POST", "/admin/usage/flush", true).await.status,
        200
    );
    // b's export flushes b first, then reads what both wrote.
    // The default range: the last 24 hours up to the current one included.
    let q = "/admin/usage";
    let both = [row("acme", "api", "2xx", 5), row("zeta", "api", "5xx", 1)];
    assert_eq!(totals(&admin(&b, "GET", q, true).await.json()), both);
    assert_eq!(totals(&admin(&a, "GET", q, true).await.json()), both);

    // Redis down: flush and export answer 503 promptly, counts are kept.
    redis.stop();
    assert_eq!(call(&a, "/status/200", Some("zeta-key")).await, 200);
    let started = std::time::Instant::now();
    let r = admin(&a, "POST", "/admin/usage/flush", true).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(admin(&a, "GET", q, true).await.status, 503);
    // Requests are still served while Redis is down.
    assert_eq!(call(&a, "/status/200", Some("zeta-key")).await, 200);

    // After the restart (an empty Redis) the kept counts are written.
    redis.restart();
    let mut rows = Vec::new();
    for _ in 0..50 {
        let r = admin(&a, "GET", q, true).await;
        if r.status == 200 {
            rows = totals(&r.json());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows, [row("zeta", "api", "2xx", 2)]);

    // Shutdown writes what is left, in the documented layout (one hash per UTC hour); b's
    // connection broke with the restart: the write is sent again on a new one.
    assert_eq!(call(&b, "/status/204", Some("acme-key")).await, 204);
    within("shutdown", b.gateway.shutdown(Duration::from_secs(2))).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = within("connect", client.get_multiplexed_async_connection())
        .await
        .unwrap();
    let keys: Vec<String> = within(
        "keys",
        redis::cmd("KEYS")
            .arg("gatehouse:usage:*")
            .query_async(&mut conn),
    )
    .await
    .unwrap();
    let mut found = 0;
    for key in &keys {
        assert!(
            key.starts_with("gatehouse:usage:{") && key.len() == 28,
            "{key}"
        );
        let n: Option<u64> = within(
            "hget",
            redis::cmd("HGET")
                .arg(key)
                .arg("acme\x1fapi\x1f2xx")
                .query_async(&mut conn),
        )
        .await
        .unwrap();
        found += n.unwrap_or(0);
    }
    assert_eq!(found, 1, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_counts_survive_reloads() {
    let echo = spawn_echo().await;
    let gw = start(echo.addr, "", "{ flush_interval: 1h }").await;
    for _ in 0..2 {
        assert_eq!(call(&gw, "/status/200", Some("acme-key")).await, 200);
    }
    // Same `usage:`: the same meter, unflushed counts included.
    gw.reloader.reload("test").unwrap();
    assert_eq!(call(&gw, "/status/200", Some("acme-key")).await, 200);
    let body = admin(&gw, "GET", "/admin/usage", true).await.json();
    assert_eq!(totals(&body), [row("acme", "api", "2xx", 3)]);

    // Changed `usage:`: a new meter over the same in-process rows; the old one flushes what it
    // counted once its snapshot is gone.
    assert_eq!(call(&gw, "/status/200", Some("acme-key")).await, 200);
    let yaml = std::fs::read_to_string(gw.config_path()).unwrap();
    let changed = yaml.replace(
        "usage: { flush_interval: 1h }",
        "usage: { flush_interval: 30m }",
    );
    assert_ne!(yaml, changed);
    std::fs::write(gw.config_path(), changed).unwrap();
    gw.reloader.reload("test").unwrap();
    assert_eq!(call(&gw, "/status/200", Some("acme-key")).await, 200);
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = totals(&admin(&gw, "GET", "/admin/usage", true).await.json());
        if rows == [row("acme", "api", "2xx", 5)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows, [row("acme", "api", "2xx", 5)]);
}
