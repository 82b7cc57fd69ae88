//! The `gatehouse` binary: `version`, `validate`, and graceful shutdown on SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, http_client, scratch_dir, send};
use gatehouse_testkit::process::GatehouseProcess;
use gatehouse_testkit::{BoxError, Upstream, free_port, spawn_slow};
use http_body_util::Full;
use tokio::task::JoinHandle;
use tokio::time::error::Elapsed;

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

#[test]
fn version_prints_the_version() {
    let out = Command::new(BIN).arg("version").output().expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!("gatehouse {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_example_validates() {
    let mut checked = 0;
    for entry in std::fs::read_dir(EXAMPLES).expect("examples/") {
        let path = entry.expect("entry").path();
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let out = Command::new(BIN)
            .args(["validate", "--config"])
            .arg(&path)
            .env("GATEHOUSE_ADMIN_TOKEN", "test-token")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{} refused:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("valid"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        checked += 1;
    }
    assert!(checked >= 2, "expected examples/*.yaml, checked {checked}");
    // The quick start, by the path the docs give.
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(format!("{EXAMPLES}/quickstart.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn validate_lists_every_error_with_location_and_hint() {
    let dir = scratch_dir();
    let path = dir.join("broken.yaml");
    std::fs::write(
        &path,
        "listeners:\n\
         \x20 - name: public\n\
         \x20   address: 127.0.0.1:0\n\
         server:\n\
         \x20 shutdwn_timeout: 1s\n\
         upstreams:\n\
         \x20 backend:\n\
         \x20   targets: [\"127.0.0.1:1\"]\n\
         \x20   timeouts: { connect: 5 parsecs }\n\
         routes:\n\
         \x20 - name: r\n\
         \x20   match: { path: { prefix: / } }\n\
         \x20   upstream: backnd\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    let line_with = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
            .to_owned()
    };
    let unknown_key = line_with("shutdwn_timeout");
    assert!(
        unknown_key.contains("broken.yaml:5:3"),
        "location: {unknown_key}"
    );
    assert!(
        unknown_key.contains("did you mean `shutdown_timeout`"),
        "hint: {unknown_key}"
    );
    let unknown_upstream = line_with("backnd");
    assert!(
        unknown_upstream.contains("broken.yaml:13:15"),
        "location: {unknown_upstream}"
    );
    assert!(
        unknown_upstream.contains("did you mean `backend`"),
        "hint: {unknown_upstream}"
    );
    let bad_duration = line_with("parsecs");
    assert!(
        bad_duration.contains("broken.yaml:9:26"),
        "location: {bad_duration}"
    );
    assert!(bad_duration.contains("hint"), "hint: {bad_duration}");
    assert!(stderr.contains("3 errors"), "stderr:\n{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_config(
    listener: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
    timeout: &str,
) -> String {
    format!(
        "server:\n  shutdown_timeout: {timeout}\n  watch: false\nlisteners:\n  - name: public\n    address: {listener}\nadmin:\n  address: {admin}\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\n    timeouts: {{ request: 30s }}\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n"
    )
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

async fn wait_for_hit(upstream: &Upstream) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while upstream.hits() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the request never reached the upstream");
}

/// A running gateway in front of a slow upstream, with one request to it in flight (the
/// upstream has seen it and not answered yet).
struct InFlight {
    gh: GatehouseProcess,
    request: JoinHandle<Result<Result<Reply, BoxError>, Elapsed>>,
    listener: SocketAddr,
    dir: PathBuf,
    _slow: Upstream,
}

impl InFlight {
    /// Starts `gatehouse run` with `shutdown_timeout` in front of an upstream that answers
    /// after `slow_for`, and sends `GET /slow` (client timeout 10s) through it.
    async fn start(slow_for: Duration, shutdown_timeout: &str) -> InFlight {
        let slow = spawn_slow(slow_for).await;
        let dir = scratch_dir();
        let (listener, admin) = (local(free_port()), local(free_port()));
        let path = dir.join("gatehouse.yaml");
        std::fs::write(
            &path,
            run_config(listener, admin, slow.addr, shutdown_timeout),
        )
        .unwrap();
        let gh = GatehouseProcess::spawn(Path::new(BIN), &path, &dir);
        gh.wait_listening(listener).await;

        let request = tokio::spawn(async move {
            let req = http::Request::get(format!("http://{listener}/slow"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            tokio::time::timeout(Duration::from_secs(10), send(&http_client(), req)).await
        });
        wait_for_hit(&slow).await;
        InFlight {
            gh,
            request,
            listener,
            dir,
            _slow: slow,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    let InFlight {
        mut gh,
        request: in_flight,
        listener,
        dir,
        _slow,
    } = InFlight::start(Duration::from_secs(1), "5s").await;
    let signalled = Instant::now();
    gh.signal("-TERM");

    // New connections are refused once the gateway stops accepting.
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if tokio::net::TcpStream::connect(listener).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        refused.is_ok(),
        "still accepting connections after SIGTERM:\n{}",
        gh.log()
    );
    assert!(
        !in_flight.is_finished(),
        "the in-flight request ended before the upstream answered"
    );

    let reply = in_flight
        .await
        .expect("task")
        .expect("in-flight request timed out")
        .unwrap_or_else(|e| panic!("in-flight request failed: {e}\n{}", gh.log()));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["path"], "/slow");

    let status = gh.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0), "log:\n{}", gh.log());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "exit took {:?}",
        signalled.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_up_after_shutdown_timeout() {
    let InFlight {
        mut gh,
        request: in_flight,
        listener: _,
        dir,
        _slow,
    } = InFlight::start(Duration::from_secs(5), "500ms").await;
    let signalled = Instant::now();
    gh.signal("-TERM");
    let status = gh.wait_exit(Duration::from_secs(4)).await;
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "log:\n{}", gh.log());
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(2500),
        "exit after {took:?}, expected about 500ms"
    );
    // The request was not waited for: it did not get the upstream's answer.
    let outcome = in_flight.await.expect("task").expect("client timed out");
    assert!(
        outcome.is_err(),
        "request unexpectedly completed: {:?}",
        outcome.map(|r| r.status)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
