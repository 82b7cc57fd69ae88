//! HTTP/2 control-frame floods end to end, with an independent client (the Python `h2` package,
//! `h2_flood/flood.py`): PING, SETTINGS and rapid-reset floods close the connection once they
//! exceed `limits.http2_control_frame_budget`; a well-behaved client is served.

use std::net::SocketAddr;
use std::process::Command;

use gatehouse_testkit::certs::run_bounded;
use gatehouse_testkit::gateway::TestGateway;
use gatehouse_testkit::{require_python_modules, spawn_echo};
use serde_json::Value;

/// What `flood.py` reported.
#[derive(Debug)]
struct Flood {
    sent: u64,
    acks: u64,
    status: Option<u64>,
    closed: bool,
    goaway: bool,
}

async fn flood(addr: SocketAddr, mode: &str, count: u32) -> Flood {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2_flood/flood.py");
    let mut cmd = Command::new("python3");
    cmd.args([script, &addr.to_string(), mode, &count.to_string()]);
    let out = run_bounded(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "flood.py {mode}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    Flood {
        sent: v["sent"].as_u64().unwrap(),
        acks: v["acks"].as_u64().unwrap(),
        status: v["status"].as_u64(),
        closed: v["closed"].as_bool().unwrap(),
        goaway: v["goaway"].as_bool().unwrap(),
    }
}

async fn start(limits: &str) -> (TestGateway, gatehouse_testkit::Upstream) {
    let echo = spawn_echo().await;
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n    limits: {limits}\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{}\"]\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n",
        echo.addr
    );
    (TestGateway::start(&yaml).await, echo)
}

fn flood_refusals(gw: &TestGateway) -> u64 {
    let text = gw
        .gateway
        .metrics()
        .render(gatehouse_metrics::Format::Prometheus);
    let series =
        "gatehouse_connections_refused_total{listener=\"public\",reason=\"http2_frame_flood\"} ";
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_flood_is_cut_at_the_default_budget() {
    if !require_python_modules(&["h2"]) {
        return;
    }
    let (gw, _echo) = start("{}").await;
    // 20,000 PINGs against the default budget of 1,000 per 10 s.
    let f = flood(gw.addr, "ping", 20_000).await;
    assert!(f.closed, "{f:?}");
    assert!(f.sent < 20_000 || f.acks <= 1_001, "{f:?}");
    assert!(f.acks <= 1_001, "answered past the budget: {f:?}");
    assert_eq!(flood_refusals(&gw), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_and_reset_floods_are_cut() {
    if !require_python_modules(&["h2"]) {
        return;
    }
    let (gw, echo) = start("{ http2_control_frame_budget: 200 }").await;
    let f = flood(gw.addr, "settings", 5_000).await;
    assert!(f.closed, "{f:?}");
    assert!(f.acks <= 201, "{f:?}");
    assert_eq!(flood_refusals(&gw), 1);
    // Rapid reset: h2 itself refuses more than a few pending resets (GOAWAY ENHANCE_YOUR_CALM);
    // whichever limit comes first, the connection is closed and few requests get through.
    let f = flood(gw.addr, "reset", 5_000).await;
    assert!(f.closed, "{f:?}");
    assert!(f.sent < 5_000 || f.goaway, "{f:?}");
    assert!(
        echo.hits() <= 201,
        "{} requests reached the upstream",
        echo.hits()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_client_is_served_and_a_zero_budget_is_unlimited() {
    if !require_python_modules(&["h2"]) {
        return;
    }
    let (gw, echo) = start("{ http2_control_frame_budget: 20 }").await;
    // The client's SETTINGS, 10 PINGs and a request: within the budget.
    let f = flood(gw.addr, "request", 10).await;
    assert_eq!(f.status, Some(200), "{f:?}");
    assert_eq!(f.acks, 11, "{f:?}");
    assert_eq!(echo.hits(), 1);
    drop(gw);
    // Budget 0: nothing is counted, the flood is answered in full and the request served.
    let (gw, _echo) = start("{ http2_control_frame_budget: 0 }").await;
    let f = flood(gw.addr, "request", 3_000).await;
    assert_eq!(f.status, Some(200), "{f:?}");
    assert_eq!(f.acks, 3_001, "{f:?}");
    assert_eq!(flood_refusals(&gw), 0);
}
