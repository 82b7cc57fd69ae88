//! `fault_injection` end to end: aborts and delays by percentage, header control, percentage 0,
//! its place after authentication, and refused settings with their location.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatehouse_testkit::gateway::{TestGateway, get};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::spawn_echo;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;

#[path = "support/validate.rs"]
mod validate;

/// A gateway with one route `/f` to `upstream` whose plugins are `plugins` (YAML list items).
async fn start(upstream: SocketAddr, plugins: &str) -> TestGateway {
    TestGateway::start(&yaml(upstream, plugins)).await
}

fn yaml(upstream: SocketAddr, plugins: &str) -> String {
    format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  backend:
    targets: ["{upstream}"]
consumers:
  - {{ id: acme, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: f
    match: {{ path: {{ prefix: /f }} }}
    upstream: backend
    plugins:
{plugins}
"#,
        sha256_hex_via_cli("fault-key")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_answers_problem_json_without_reaching_the_upstream() {
    let echo = spawn_echo().await;
    let gw = start(
        echo.addr,
        "      - fault_injection: { abort: { status: 503, percentage: 100 } }",
    )
    .await;
    for _ in 0..3 {
        let r = get(&gw.url("/f/x"), &[]).await;
        assert_eq!(r.status, 503);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let v = r.json();
        assert_eq!(v["status"], 503);
        assert_eq!(v["detail"], "fault injected");
    }
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_holds_the_request_then_proxies_it() {
    let echo = spawn_echo().await;
    let gw = start(
        echo.addr,
        "      - fault_injection: { delay: { duration: 300ms, percentage: 100 } }",
    )
    .await;
    let started = Instant::now();
    let r = get(&gw.url("/f/slow"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/f/slow");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentage_zero_never_fires() {
    let echo = spawn_echo().await;
    let gw = start(
        echo.addr,
        "      - fault_injection: { delay: { duration: 10s, percentage: 0 }, abort: { status: 500, percentage: 0 } }",
    )
    .await;
    for _ in 0..30 {
        assert_eq!(get(&gw.url("/f"), &[]).await.status, 200);
    }
    assert_eq!(echo.hits(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_force_faults_with_header_control_only() {
    let echo = spawn_echo().await;
    let gw = start(
        echo.addr,
        "      - fault_injection: { header_control: true, delay: { duration: 250ms, percentage: 0 } }",
    )
    .await;
    let r = get(&gw.url("/f"), &[("x-gatehouse-fault-abort", "418")]).await;
    assert_eq!(r.status, 418);
    assert_eq!(r.json()["detail"], "fault injected");
    assert_eq!(echo.hits(), 0);
    // Not an error status: ignored, and the control header is not forwarded.
    let r = get(&gw.url("/f"), &[("x-gatehouse-fault-abort", "200")]).await;
    assert_eq!(r.status, 200);
    assert!(r.json()["headers"].get("x-gatehouse-fault-abort").is_none());
    // A delay asked for is capped at the configured 250 ms.
    let started = Instant::now();
    let r = get(&gw.url("/f"), &[("x-gatehouse-fault-delay", "250")]).await;
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(r.json()["headers"].get("x-gatehouse-fault-delay").is_none());

    // Without header_control the headers do nothing and pass through untouched.
    let off = start(
        echo.addr,
        "      - fault_injection: { abort: { status: 500, percentage: 0 } }",
    )
    .await;
    let r = get(&off.url("/f"), &[("x-gatehouse-fault-abort", "503")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["headers"]["x-gatehouse-fault-abort"][0], "503");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_after_authentication() {
    let echo = spawn_echo().await;
    let gw = start(
        echo.addr,
        "      - key_auth: {}\n      - fault_injection: { abort: { status: 503 } }",
    )
    .await;
    // Unauthenticated clients are refused by key_auth; faults only reach authenticated ones.
    assert_eq!(get(&gw.url("/f"), &[]).await.status, 401);
    let r = get(&gw.url("/f"), &[("x-api-key", "fault-key")]).await;
    assert_eq!(r.status, 503);
    assert_eq!(echo.hits(), 0);
}

#[test]
fn bad_settings_are_refused_with_their_location() {
    let plugins = "      - fault_injection: { abort: { status: 302, percentage: 150 } }";
    let stderr = validate::refused(&yaml("127.0.0.1:1".parse().unwrap(), plugins));
    let status = validate::line_with(&stderr, "fault_injection.abort.status");
    assert!(status.contains("gatehouse.yaml:18:45"), "{status}");
    let percentage = validate::line_with(&stderr, "fault_injection.abort.percentage");
    assert!(percentage.contains("gatehouse.yaml:18:62"), "{percentage}");
    assert!(percentage.contains("out of range"), "{percentage}");
}
