//! End-to-end tests of the admin listener: `/live`, `/ready`, `/status` and the bearer token.

use std::time::Duration;

use gatehouse_testkit::gateway::{Reply, TestGateway, config, get};
use gatehouse_testkit::spawn_echo;

const T: Duration = Duration::from_secs(10);

async fn admin_get(gw: &TestGateway, path: &str, headers: &[(&str, &str)]) -> Reply {
    let admin = gw.admin.expect("admin listener");
    tokio::time::timeout(T, get(&format!("http://{admin}{path}"), headers))
        .await
        .unwrap_or_else(|_| panic!("GET {path} timed out"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_ready_and_status() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&config(
        &[echo.addr],
        "",
        "routes:\n  - name: all\n    match: { path: { prefix: / } }\n    upstream: backend\n",
    ))
    .await;

    let live = admin_get(&gw, "/live", &[]).await;
    assert_eq!(live.status, 200);
    let ready = admin_get(&gw, "/ready", &[]).await;
    assert_eq!(ready.status, 200);

    let status = admin_get(&gw, "/status", &[]).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.header("content-type"), Some("application/json"));
    let json = status.json();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"), "{json}");
    assert_eq!(json["config"]["version"], 1, "{json}");
    let hash = json["config"]["hash"].as_str().expect("config.hash string");
    assert!(!hash.is_empty(), "{json}");
    assert!(json["uptime_seconds"].is_u64(), "{json}");
    assert_eq!(json["config"]["routes"], 1, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_protects_status_but_not_probes() {
    let echo = spawn_echo().await;
    let yaml = config(
        &[echo.addr],
        "",
        "routes:\n  - name: all\n    match: { path: { prefix: / } }\n    upstream: backend\n",
    )
    .replace(
        "admin:\n  address: 127.0.0.1:0\n",
        "admin:\n  address: 127.0.0.1:0\n  token: secret\n",
    );
    assert!(yaml.contains("token: secret"));
    let gw = TestGateway::start(&yaml).await;

    let denied = admin_get(&gw, "/status", &[]).await;
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(denied.json()["status"], 401);

    let wrong = admin_get(&gw, "/status", &[("authorization", "Bearer nope")]).await;
    assert_eq!(wrong.status, 401);

    let ok = admin_get(&gw, "/status", &[("authorization", "Bearer secret")]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["version"], env!("CARGO_PKG_VERSION"));

    assert_eq!(admin_get(&gw, "/live", &[]).await.status, 200);
    assert_eq!(admin_get(&gw, "/ready", &[]).await.status, 200);
}

/// Runs `gatehouse validate --config {path}`.
fn validate(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["validate", "--config"])
        .arg(path)
        .output()
        .expect("run gatehouse validate")
}

#[test]
fn admin_on_all_interfaces_without_token_is_refused() {
    let dir = gatehouse_testkit::gateway::scratch_dir();
    let path = dir.join("admin.yaml");
    std::fs::write(
        &path,
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 0.0.0.0:0\nupstreams:\n  backend: { targets: [\"127.0.0.1:1\"] }\nroutes:\n  - name: r\n    match: { path: { prefix: / } }\n    upstream: backend\n",
    )
    .unwrap();
    let out = validate(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("admin.token"), "stderr: {stderr}");
    assert!(stderr.contains("admin.yaml:5:"), "stderr: {stderr}");

    // The same with a token is accepted.
    std::fs::write(
        &path,
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 0.0.0.0:0\n  token: secret\nupstreams:\n  backend: { targets: [\"127.0.0.1:1\"] }\nroutes:\n  - name: r\n    match: { path: { prefix: / } }\n    upstream: backend\n",
    )
    .unwrap();
    let out = validate(&path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
