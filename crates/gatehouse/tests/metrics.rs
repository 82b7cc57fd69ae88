//! End-to-end tests of `GET /metrics` on the admin listener, the `/status` summaries, the
//! Grafana dashboard's metric names and `gatehouse top --once`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, TestGateway, config, get, http_client, send, within};
use gatehouse_testkit::{Upstream, spawn_echo, spawn_failing};
use http_body_util::Full;

/// Samples of one exposition: `name{labels}` → value, labels as written.
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (key, value) = l.rsplit_once(' ').expect("sample line");
                let value = match value {
                    "+Inf" => f64::INFINITY,
                    v => v.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
                };
                (key.to_owned(), value)
            })
            .collect();
        Scrape { text, samples }
    }

    /// The value of `name{labels}` (labels in exposition order), 0 when absent.
    fn get(&self, name: &str, labels: &str) -> f64 {
        let key = if labels.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{{{labels}}}")
        };
        self.samples.get(&key).copied().unwrap_or(0.0)
    }

    /// Every label value of every sample, with its label name.
    fn label_values(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for key in self.samples.keys() {
            let Some((_, labels)) = key.split_once('{') else {
                continue;
            };
            for pair in labels.trim_end_matches('}').split("\",") {
                let (k, v) = pair.split_once("=\"").expect("label pair");
                out.push((k.to_owned(), v.trim_end_matches('"').to_owned()));
            }
        }
        out
    }
}

async fn admin(admin: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    get(&format!("http://{admin}{path}"), headers).await
}

async fn scrape(admin_addr: SocketAddr) -> Scrape {
    let r = admin(admin_addr, "/metrics", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Scrape::parse(String::from_utf8(r.body.to_vec()).expect("UTF-8 exposition"))
}

/// Scrapes until `done` holds (counters are recorded when a response body ends, which may be a
/// moment after the client has read it).
async fn scrape_until(admin_addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    within("metrics to settle", async {
        loop {
            let s = scrape(admin_addr).await;
            if done(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

async fn request(gw: &TestGateway, method: &str, path: &str, body: &'static str) -> Reply {
    let req = http::Request::builder()
        .method(method)
        .uri(gw.url(path))
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request");
    within(path, send(&http_client(), req))
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

const ROUTES: &str = "routes:
  - name: users
    match: { path: { prefix: /users } }
    upstream: backend
  - name: broken
    match: { path: { prefix: /broken } }
    upstream: failing
  - name: denied
    match: { path: { prefix: /denied } }
    upstream: backend
    plugins:
      - ip_restriction: { deny: [127.0.0.1/32] }
";

/// A gateway with routes `users` (echo), `broken` (an upstream answering 503) and `denied`
/// (refused by `ip_restriction`); returns it, its admin address and the upstreams to keep alive.
async fn gateway() -> (TestGateway, SocketAddr, [Upstream; 2]) {
    let echo = spawn_echo().await;
    let failing = spawn_failing(503).await;
    let extra = format!("  failing:\n    targets: [\"{}\"]\n", failing.addr);
    let gw = TestGateway::start(&config(&[echo.addr], &extra, ROUTES)).await;
    let admin = gw.admin.expect("admin listener");
    (gw, admin, [echo, failing])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_latency_bytes_rejections_and_unrouted_are_counted_exactly() {
    let (gw, admin_addr, _upstreams) = gateway().await;
    let mut users_bytes_out = 0usize;
    for _ in 0..3 {
        let r = request(&gw, "GET", "/users/1", "").await;
        assert_eq!(r.status, 200);
        users_bytes_out += r.body.len();
    }
    for _ in 0..2 {
        let r = request(&gw, "POST", "/users", "hello").await;
        assert_eq!(r.status, 200);
        users_bytes_out += r.body.len();
    }
    let r = request(&gw, "PURGE", "/users/cache", "").await;
    users_bytes_out += r.body.len();
    let purge_class = format!("{}xx", r.status.as_u16() / 100);
    for _ in 0..2 {
        assert_eq!(request(&gw, "GET", "/broken", "").await.status, 503);
    }
    assert_eq!(request(&gw, "GET", "/denied", "").await.status, 403);
    let unrouted = gw.url("/nowhere/secret-path?token=abc");
    let unrouted = get(&unrouted, &[]).await;
    // Without a catch-all route, the gateway answers 404 itself.
    assert_eq!(unrouted.status, 404);

    let s = scrape_until(admin_addr, |s| {
        s.get(
            "gatehouse_request_duration_seconds_count",
            "route=\"users\"",
        ) >= 6.0
            && s.get(
                "gatehouse_request_duration_seconds_count",
                "route=\"__none__\"",
            ) >= 1.0
            && s.get(
                "gatehouse_request_duration_seconds_count",
                "route=\"denied\"",
            ) >= 1.0
            && s.get(
                "gatehouse_request_duration_seconds_count",
                "route=\"broken\"",
            ) >= 2.0
    })
    .await;
    let req = |labels: &str| s.get("gatehouse_requests_total", labels);
    assert_eq!(
        req("route=\"users\",method=\"GET\",status_class=\"2xx\",cluster=\"backend\""),
        3.0,
        "{}",
        s.text
    );
    assert_eq!(
        req("route=\"users\",method=\"POST\",status_class=\"2xx\",cluster=\"backend\""),
        2.0
    );
    assert_eq!(
        req(&format!(
            "route=\"users\",method=\"OTHER\",status_class=\"{purge_class}\",cluster=\"backend\""
        )),
        1.0,
        "{}",
        s.text
    );
    assert_eq!(
        req("route=\"broken\",method=\"GET\",status_class=\"5xx\",cluster=\"failing\""),
        2.0
    );
    assert_eq!(
        req("route=\"denied\",method=\"GET\",status_class=\"4xx\",cluster=\"backend\""),
        1.0
    );
    assert_eq!(
        req("route=\"__none__\",method=\"GET\",status_class=\"4xx\",cluster=\"__none__\""),
        1.0
    );
    assert_eq!(
        s.get(
            "gatehouse_rejections_total",
            "route=\"denied\",reason=\"ip_restriction\""
        ),
        1.0
    );
    assert_eq!(
        s.get(
            "gatehouse_rejections_total",
            "route=\"__none__\",reason=\"no_route\""
        ),
        1.0
    );
    // An upstream 503 is an error, not a refusal.
    assert!(
        !s.text
            .contains("gatehouse_rejections_total{route=\"broken\"")
    );
    assert_eq!(
        s.get("gatehouse_request_bytes_total", "route=\"users\""),
        10.0
    );
    assert_eq!(
        s.get("gatehouse_response_bytes_total", "route=\"users\""),
        users_bytes_out as f64
    );

    // Histograms: cumulative buckets never decrease, +Inf bucket = count = requests.
    for (name, labels, n) in [
        ("gatehouse_request_duration_seconds", "route=\"users\"", 6.0),
        (
            "gatehouse_upstream_duration_seconds",
            "route=\"users\",cluster=\"backend\"",
            6.0,
        ),
        (
            "gatehouse_upstream_duration_seconds",
            "route=\"denied\",cluster=\"backend\"",
            0.0,
        ),
    ] {
        let mut last = 0.0;
        let prefix = format!("{name}_bucket{{{labels},le=\"");
        let buckets: Vec<&str> = s.text.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(
            buckets.len(),
            20,
            "19 bounds from 0.5 ms to 60 s, then +Inf"
        );
        assert!(buckets[0].starts_with(&format!("{prefix}0.0005\"")));
        assert!(buckets[18].starts_with(&format!("{prefix}60.0\"")));
        for line in buckets {
            let v: f64 = line
                .rsplit_once(' ')
                .and_then(|(_, v)| v.parse().ok())
                .expect("count");
            assert!(v >= last, "{line}: below {last}");
            last = v;
        }
        let inf = s.get(&format!("{name}_bucket"), &format!("{labels},le=\"+Inf\""));
        assert!(inf >= last);
        assert_eq!(inf, n, "{name}{{{labels}}}\n{}", s.text);
        assert_eq!(s.get(&format!("{name}_count"), labels), n);
    }

    // Listener gauges: one admin scrape in flight on another listener, nothing on `public`.
    assert_eq!(
        s.get("gatehouse_requests_in_flight", "listener=\"public\""),
        0.0
    );
    assert!(
        s.text
            .contains("gatehouse_connections_active{listener=\"public\"}")
    );
    assert!(s.text.contains("gatehouse_build_info{version=\""));

    // Bounded labels: no raw path or query, and the only IPs are configured target addresses.
    assert!(!s.text.contains("secret"), "{}", s.text);
    assert!(!s.text.contains("/users"), "{}", s.text);
    for (k, v) in s.label_values() {
        if v.contains("127.0.0.1") {
            assert_eq!(k, "target", "IP in label {k}={v}");
        }
    }
    for (k, v) in s.label_values() {
        if k == "target" {
            let healthy = s.get(
                "gatehouse_upstream_target_healthy",
                &format!("cluster=\"backend\",target=\"{v}\""),
            ) + s.get(
                "gatehouse_upstream_target_healthy",
                &format!("cluster=\"failing\",target=\"{v}\""),
            );
            assert_eq!(healthy, 1.0, "target {v}");
        }
    }

    // `/status` summaries.
    let status = admin(admin_addr, "/status", &[]).await.json();
    let routes = status["summary"]["routes"]
        .as_array()
        .expect("summary.routes");
    let users = routes
        .iter()
        .find(|r| r["route"] == "users")
        .expect("users summary");
    assert_eq!(users["requests"], 6, "{status}");
    assert_eq!(users["cluster"], "backend");
    assert!(
        users["p50_ms"].as_f64().is_some_and(|v| v > 0.0),
        "{status}"
    );
    assert!(users["p99_ms"].as_f64() >= users["p50_ms"].as_f64());
    let broken = routes
        .iter()
        .find(|r| r["route"] == "broken")
        .expect("broken");
    assert_eq!(broken["errors_5xx"], 2);
    let ups = status["summary"]["upstreams"]
        .as_array()
        .expect("upstreams");
    let backend = ups
        .iter()
        .find(|u| u["upstream"] == "backend")
        .expect("backend");
    assert_eq!(backend["targets"], 1);
    assert_eq!(backend["healthy"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openmetrics_on_request_and_reloads_counted_with_counters_kept() {
    let (gw, admin_addr, _upstreams) = gateway().await;
    assert_eq!(request(&gw, "GET", "/users/1", "").await.status, 200);

    let om = admin(
        admin_addr,
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    )
    .await;
    assert_eq!(om.status, 200);
    assert!(
        om.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text; version=1.0.0")),
        "{:?}",
        om.headers
    );
    let om = String::from_utf8(om.body.to_vec()).expect("UTF-8");
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE gatehouse_build info\n"), "{om}");
    let plain = scrape(admin_addr).await;
    assert!(!plain.text.contains("# EOF"));

    let hash = |s: &Scrape| {
        s.label_values()
            .into_iter()
            .find(|(k, _)| k == "hash")
            .map(|(_, v)| v)
            .expect("config hash label")
    };
    let first_hash = hash(&plain);
    assert_eq!(
        plain.get("gatehouse_config_reloads_total", "result=\"success\""),
        0.0
    );

    // A valid change: reload succeeds, the hash changes, the users counter carries over.
    let path = gw.config_path();
    let yaml = std::fs::read_to_string(&path).expect("config");
    let extra = "  - name: extra\n    match: { path: { prefix: /extra } }\n    upstream: backend\n";
    std::fs::write(&path, format!("{yaml}{extra}")).expect("write");
    let r = within(
        "reload",
        http_client().request(
            http::Request::post(format!("http://{admin_addr}/admin/reload"))
                .body(Full::new(Bytes::new()))
                .expect("request"),
        ),
    )
    .await
    .expect("reload");
    assert_eq!(r.status(), 200);
    // A broken file: reload refused and counted.
    std::fs::write(&path, "listeners: [").expect("write");
    assert!(gw.reloader.reload("test").is_err());

    let s = scrape_until(admin_addr, |s| {
        s.get("gatehouse_config_reloads_total", "result=\"failure\"") == 1.0
    })
    .await;
    assert_eq!(
        s.get("gatehouse_config_reloads_total", "result=\"success\""),
        1.0
    );
    assert_ne!(hash(&s), first_hash, "{}", s.text);
    assert_eq!(
        s.text.matches("gatehouse_config_info{").count(),
        1,
        "{}",
        s.text
    );
    assert!(s.get("gatehouse_config_last_reload_timestamp_seconds", "") > 1.7e9);
    assert_eq!(
        s.get(
            "gatehouse_requests_total",
            "route=\"users\",method=\"GET\",status_class=\"2xx\",cluster=\"backend\""
        ),
        1.0,
        "{}",
        s.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_in_the_grafana_dashboard_is_exported() {
    // Every subsystem the dashboard shows is configured: a cache on `users`, a circuit breaker and
    // retries on `failing`.
    let echo = spawn_echo().await;
    let failing = spawn_failing(503).await;
    let extra = format!(
        "    retry: {{ attempts: 2 }}\n  failing:\n    targets: [\"{}\"]\n    circuit_breaker: true\n",
        failing.addr
    );
    let routes = ROUTES.replacen(
        "    upstream: backend\n",
        "    upstream: backend\n    plugins:\n      - cache: {}\n",
        1,
    );
    let gw = TestGateway::start(&config(&[echo.addr], &extra, &routes)).await;
    let admin_addr = gw.admin.expect("admin listener");
    assert_eq!(request(&gw, "GET", "/users/1", "").await.status, 200);
    assert_eq!(request(&gw, "GET", "/denied", "").await.status, 403);
    let s = scrape_until(admin_addr, |s| {
        s.get(
            "gatehouse_request_duration_seconds_count",
            "route=\"denied\"",
        ) >= 1.0
    })
    .await;
    let dashboard = include_str!("../../../deploy/grafana/gatehouse.json");
    let json: serde_json::Value = serde_json::from_str(dashboard).expect("dashboard is JSON");
    assert!(json["panels"].as_array().is_some_and(|p| p.len() >= 6));
    let names = metric_names(dashboard);
    assert!(names.len() >= 8, "{names:?}");
    let exported: Vec<&str> = s
        .samples
        .keys()
        .map(|k| k.split('{').next().unwrap_or(k))
        .collect();
    for name in &names {
        assert!(
            exported.contains(&name.as_str()),
            "dashboard uses {name}, not in /metrics:\n{}",
            s.text
        );
    }
}

/// Every `gatehouse_…` identifier in `text`.
fn metric_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("gatehouse_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &tail[end..];
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_renders_routes_from_the_admin_api() {
    let (gw, admin_addr, _upstreams) = gateway().await;
    for _ in 0..4 {
        assert_eq!(request(&gw, "GET", "/users/1", "").await.status, 200);
    }
    let admin = admin_addr.to_string();
    let out = top(&["--admin", &admin, "--once", "--interval", "200ms"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ROUTE"), "{stdout}");
    assert!(stdout.contains("P99"), "{stdout}");
    let users = stdout
        .lines()
        .find(|l| l.starts_with("users "))
        .unwrap_or_else(|| panic!("no users line in\n{stdout}"));
    assert!(users.contains(" 4 "), "{users}");
    assert!(stdout.contains("backend"), "{stdout}");

    // An unreachable admin API is an error, not a hang.
    let out = top(&["--admin", "127.0.0.1:1", "--once"]).await;
    assert!(!out.status.success());
}

/// Runs `gatehouse top ARGS` (bounded).
async fn top(args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.arg("top").args(args);
    within(
        "gatehouse top",
        tokio::task::spawn_blocking(move || cmd.output()),
    )
    .await
    .expect("join")
    .expect("run gatehouse top")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_disabled_and_bad_settings_are_located() {
    let echo = spawn_echo().await;
    let extra = format!("  failing:\n    targets: [\"{}\"]\n", echo.addr);
    let yaml = format!(
        "{}observability:\n  metrics:\n    enabled: false\n",
        config(&[echo.addr], &extra, ROUTES)
    );
    let gw = TestGateway::start(&yaml).await;
    let admin_addr = gw.admin.expect("admin listener");
    assert_eq!(request(&gw, "GET", "/users/1", "").await.status, 200);
    let s = scrape(admin_addr).await;
    assert!(!s.text.contains("gatehouse_requests_total"), "{}", s.text);
    assert!(
        !s.text.contains("gatehouse_request_duration_seconds"),
        "{}",
        s.text
    );
    assert!(s.text.contains("gatehouse_config_info{hash="), "{}", s.text);
    assert!(
        s.text.contains("gatehouse_upstream_target_healthy{"),
        "{}",
        s.text
    );

    let dir = gatehouse_testkit::gateway::scratch_dir();
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        format!(
            "{}observability:\n  metrics:\n    enabled: maybe\n    path: /m\n",
            config(&[echo.addr], &extra, ROUTES)
        ),
    )
    .expect("write");
    let err = gatehouse_config::load(&path)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("observability.metrics.enabled"), "{err}");
    assert!(err.contains("observability.metrics.path"), "{err}");
    assert!(err.contains("bad.yaml:"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
