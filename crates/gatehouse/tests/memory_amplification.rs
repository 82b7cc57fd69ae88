//! The HTTP/2 memory-amplification attack of the security review, against the real binary: many
//! cleartext HTTP/2 connections, each opening many PUT streams that declare a large body, send a
//! slice of it within the flow-control windows and never finish — on a route with retries, whose
//! replay buffer would otherwise hold every partial body. Sent by the Python `h2` package
//! (`h2/hold_bodies.py`), independent of the gateway's HTTP stack.
//!
//! The bodies (60,000 of a declared 64,000 bytes) fit the route's retry buffer, so without the
//! request-buffer budget every one would be held until its read timeout. With it, the gateway's
//! resident memory (`/proc/PID/status`) stays bounded under the attack and comes back near idle
//! after it, and memory-based load shedding admits requests again.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_testkit::gateway::scratch_dir;
use gatehouse_testkit::process::GatehouseProcess;
use gatehouse_testkit::{free_port, require_python_modules, spawn_echo};

const MIB: u64 = 1024 * 1024;

/// Resident set of `pid` in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_http2_bodies_stay_within_the_budget_and_memory_comes_back() {
    if !require_python_modules(&["h2"]) {
        return;
    }
    let echo = spawn_echo().await;
    let dir = scratch_dir();
    let port = free_port();
    let config = dir.join("gatehouse.yaml");
    let yaml = format!(
        "listeners:
  - name: public
    address: 127.0.0.1:{port}
admin:
  enabled: false
server:
  watch: false
  request_buffers: {{ total: 4MiB, per_connection: 512KiB }}
  load_shedding: {{ max_memory: 48MiB }}
upstreams:
  backend:
    targets: [\"{}\"]
    retry: {{ attempts: 2, buffer_body: 64KiB }}
routes:
  - name: upload
    upstream: backend
",
        echo.addr
    );
    std::fs::write(&config, yaml).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"));
    let gh = GatehouseProcess::spawn(&bin, &config, &dir);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    gh.wait_listening(addr).await;
    let pid = gh.pid();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss(pid);

    // 20 connections × 50 streams × 60 KB: 60 MB of body the gateway is asked to hold.
    assert!(
        idle < 40 * MIB,
        "idle RSS {idle} leaves no room below max_memory"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/hold_bodies.py");
    let mut attacker = Command::new("python3")
        .args([
            script,
            "127.0.0.1",
            &port.to_string(),
            "20",
            "50",
            "60000",
            "15",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run hold_bodies.py");
    let mut line = String::new();
    let stdout = attacker.stdout.take().unwrap();
    let read = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("attack finished sending")
        .unwrap()
        .unwrap();
    let sent: serde_json::Value = serde_json::from_str(&line).expect("attacker JSON");
    let sent = sent["sent"].as_u64().unwrap();
    // Every stream is still open, its body unfinished.
    let under_attack = rss(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let under_attack = under_attack.max(rss(pid));
    attacker.stdin.take().unwrap().write_all(b"done\n").unwrap();
    let _ = attacker.wait();
    // Back near idle once the streams are gone (jemalloc purges freed pages within seconds).
    let mut after = rss(pid);
    for _ in 0..40 {
        if after < idle + 8 * MIB {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = rss(pid);
    }
    eprintln!(
        "idle {} KiB, under attack {} KiB ({} KiB of body sent), after {} KiB",
        idle / 1024,
        under_attack / 1024,
        sent / 1024,
        after / 1024
    );
    // Most streams were refused (503) once the budget was spent: far less than the 60 MB offered
    // was taken in.
    assert!(
        sent < 40 * MIB,
        "the gateway took in {sent} bytes of held bodies"
    );
    assert!(
        under_attack < idle + 40 * MIB,
        "RSS grew from {idle} to {under_attack} under the attack"
    );
    assert!(
        after < idle + 8 * MIB,
        "RSS {after} ten seconds after the attack, idle was {idle}"
    );
    // Memory-based shedding recovers: requests are admitted again.
    for i in 0..20 {
        let r = gatehouse_testkit::gateway::get(&format!("http://{addr}/after/{i}"), &[]).await;
        assert_eq!(r.status, 200, "request {i} after the attack (RSS {after})");
    }
}
