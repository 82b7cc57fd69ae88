//! Reload under load, refused reloads, what survives a reload, and reload triggers of the binary
//! (file watch, SIGHUP).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, TestGateway, http_client, scratch_dir, send};
use gatehouse_testkit::process::GatehouseProcess;
use gatehouse_testkit::{HEALTH_PATH, free_port, spawn_echo, spawn_flaky_health};
use http_body_util::Full;

const T: Duration = Duration::from_secs(10);

/// A config whose route sets `x-version: {version}` on upstream requests.
fn versioned(upstream: SocketAddr, version: u32) -> String {
    format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nserver:\n  watch: false\n  shutdown_timeout: 5s\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n    plugins:\n      - request_headers: {{ set: {{ x-version: \"{version}\" }} }}\n"
    )
}

fn seen_version(reply: &Reply) -> Option<String> {
    reply.json()["headers"]["x-version"][0]
        .as_str()
        .map(str::to_owned)
}

async fn get(url: &str) -> Reply {
    let req = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    tokio::time::timeout(T, send(&http_client(), req))
        .await
        .unwrap_or_else(|_| panic!("GET {url} timed out"))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

async fn admin_reload(admin: SocketAddr) -> Reply {
    let req = http::Request::post(format!("http://{admin}/admin/reload"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    tokio::time::timeout(T, send(&http_client(), req))
        .await
        .expect("POST /admin/reload timed out")
        .expect("POST /admin/reload")
}

async fn harness_reload(gw: &TestGateway) -> Result<u64, String> {
    let r = gw.reloader.clone();
    tokio::time::timeout(
        T,
        tokio::task::spawn_blocking(move || r.reload("test").map_err(|e| e.to_string())),
    )
    .await
    .expect("reload timed out")
    .expect("reload task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_under_load_lose_no_request() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&versioned(echo.addr, 0)).await;
    let admin = gw.admin.expect("admin");
    let url = gw.url("/load");

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (stop, ok, url) = (stop.clone(), ok.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let client = http_client();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = http::Request::get(&url)
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                match tokio::time::timeout(T, send(&client, req)).await {
                    Ok(Ok(r)) if r.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Ok(r)) => failures.push(format!(
                        "status {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    )),
                    Ok(Err(e)) => failures.push(format!("error: {e}")),
                    Err(_) => failures.push("timed out".to_owned()),
                }
            }
            failures
        }));
    }

    let mut last_version = 0;
    for n in 1..=20u32 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        std::fs::write(gw.config_path(), versioned(echo.addr, n)).unwrap();
        if n % 2 == 0 {
            let reply = admin_reload(admin).await;
            assert_eq!(
                reply.status,
                200,
                "reload {n}: {}",
                String::from_utf8_lossy(&reply.body)
            );
            let version = reply.json()["version"].as_u64().expect("version");
            assert!(version > last_version);
            last_version = version;
        } else {
            let version = harness_reload(&gw)
                .await
                .unwrap_or_else(|e| panic!("reload {n}: {e}"));
            assert!(version > last_version);
            last_version = version;
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for c in clients {
        failures.extend(
            tokio::time::timeout(T, c)
                .await
                .expect("client task hung")
                .expect("client task"),
        );
    }
    assert!(
        failures.is_empty(),
        "{} failed requests (of {} ok), first: {:?}",
        failures.len(),
        ok.load(Ordering::Relaxed),
        failures.first()
    );
    assert!(
        ok.load(Ordering::Relaxed) >= 20,
        "only {} requests",
        ok.load(Ordering::Relaxed)
    );
    assert_eq!(last_version, 21);
    assert_eq!(gw.gateway.snapshot().version, 21);

    // The last configuration is the one serving.
    let reply = get(&gw.url("/after")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(seen_version(&reply).as_deref(), Some("20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_is_refused_and_the_old_one_keeps_serving() {
    let echo = spawn_echo().await;
    let gw = TestGateway::start(&versioned(echo.addr, 1)).await;
    let admin = gw.admin.expect("admin");

    // An unknown key with a typo (`preserve_hst`) in the route, on line 15, column 5.
    let broken = versioned(echo.addr, 2).replace(
        "    upstream: backend\n    plugins:",
        "    upstream: backend\n    preserve_hst: true\n    plugins:",
    );
    let line = broken
        .lines()
        .position(|l| l.contains("preserve_hst"))
        .unwrap()
        + 1;
    let location = format!("gatehouse.yaml:{line}:5");
    std::fs::write(gw.config_path(), &broken).unwrap();

    let err = harness_reload(&gw).await.expect_err("reload must fail");
    assert!(err.contains(&location), "error without {location}: {err}");
    assert!(err.contains("preserve_hst"), "{err}");
    assert!(err.contains("did you mean"), "{err}");

    let reply = admin_reload(admin).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let detail = reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains(&location), "detail: {detail}");

    let status = get(&format!("http://{admin}/status")).await;
    assert_eq!(status.status, 200);
    let status = status.json();
    assert_eq!(status["reloads"]["failed"], 2, "{status}");
    assert_eq!(status["reloads"]["succeeded"], 0, "{status}");
    let last_error = status["reloads"]["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains(&location), "{status}");
    assert_eq!(status["config"]["version"], 1, "{status}");

    let reply = get(&gw.url("/still")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(seen_version(&reply).as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_and_health_state_survive_a_reload() {
    let echo = spawn_echo().await;
    let (flaky, switch) = spawn_flaky_health().await;
    let yaml = |version: u32| {
        format!(
            "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{}\"]\n  flaky:\n    targets: [\"{}\"]\n    health_check: {{ path: {HEALTH_PATH}, interval: 100ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1 }}\nroutes:\n  - name: flaky\n    match: {{ path: {{ prefix: /flaky }} }}\n    upstream: flaky\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n    plugins:\n      - request_headers: {{ set: {{ x-version: \"{version}\" }} }}\n",
            echo.addr, flaky.addr
        )
    };
    let gw = TestGateway::start(&yaml(1)).await;
    let client = http_client();
    let call = |path: &str| {
        let req = http::Request::get(gw.url(path))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let client = client.clone();
        async move {
            tokio::time::timeout(T, send(&client, req))
                .await
                .expect("request timed out")
                .expect("request")
        }
    };

    for _ in 0..5 {
        assert_eq!(call("/a").await.status, 200);
    }
    let connections = echo.connections();
    assert_eq!(
        connections, 1,
        "sequential keep-alive requests, one connection"
    );

    // The flaky upstream goes unhealthy and the gateway notices.
    switch.set_health(500);
    tokio::time::timeout(T, async {
        loop {
            if call("/flaky").await.status == 503 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the gateway never marked the flaky upstream unhealthy");

    let before = gw.gateway.snapshot();
    let old_backend = before
        .clusters()
        .find(|(n, _)| *n == "backend")
        .unwrap()
        .1
        .clone();
    let old_flaky = before
        .clusters()
        .find(|(n, _)| *n == "flaky")
        .unwrap()
        .1
        .clone();
    drop(before);

    std::fs::write(gw.config_path(), yaml(2)).unwrap();
    assert_eq!(harness_reload(&gw).await, Ok(2));

    // Unhealthy right after the reload: the health state was kept, not reset.
    assert_eq!(call("/flaky").await.status, 503);
    let after = gw.gateway.snapshot();
    let new_backend = after
        .clusters()
        .find(|(n, _)| *n == "backend")
        .unwrap()
        .1
        .clone();
    let new_flaky = after
        .clusters()
        .find(|(n, _)| *n == "flaky")
        .unwrap()
        .1
        .clone();
    assert!(
        Arc::ptr_eq(&old_backend, &new_backend),
        "backend cluster rebuilt"
    );
    assert!(Arc::ptr_eq(&old_flaky, &new_flaky), "flaky cluster rebuilt");
    assert!(new_flaky.status().iter().all(|t| !t.healthy));

    for _ in 0..5 {
        let reply = call("/b").await;
        assert_eq!(reply.status, 200);
        assert_eq!(seen_version(&reply).as_deref(), Some("2"));
    }
    assert_eq!(
        echo.connections(),
        connections,
        "the reload dropped the pooled upstream connection"
    );
}

/// Starts `gatehouse run` on `config` (log next to it) and waits until it listens on `listener`.
async fn start(config: &Path, listener: SocketAddr) -> GatehouseProcess {
    let dir = config.parent().expect("config in a directory");
    let gh = GatehouseProcess::spawn(Path::new(env!("CARGO_BIN_EXE_gatehouse")), config, dir);
    gh.wait_listening(listener).await;
    gh
}

/// Polls the gateway until the echo behind it sees `x-version: {version}`.
async fn wait_version(
    gh: &GatehouseProcess,
    listener: SocketAddr,
    version: &str,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let reply = get(&format!("http://{listener}/v")).await;
        if seen_version(&reply).as_deref() == Some(version) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "x-version {version} not visible after {within:?} (saw {:?}):\n{}",
            seen_version(&reply),
            gh.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn binary_config(
    listener: SocketAddr,
    admin: SocketAddr,
    upstream: SocketAddr,
    watch: bool,
    version: u32,
) -> String {
    versioned(upstream, version)
        .replace(
            "    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
            &format!("    address: {listener}\nadmin:\n  address: {admin}\n"),
        )
        .replace("  watch: false\n", &format!("  watch: {watch}\n"))
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_reloads_on_file_change() {
    let echo = spawn_echo().await;
    let dir = scratch_dir();
    let path = dir.join("gatehouse.yaml");
    let (listener, admin) = (local(free_port()), local(free_port()));
    std::fs::write(&path, binary_config(listener, admin, echo.addr, true, 1)).unwrap();
    let gh = start(&path, listener).await;
    wait_version(&gh, listener, "1", Duration::from_secs(1)).await;

    std::fs::write(&path, binary_config(listener, admin, echo.addr, true, 2)).unwrap();
    wait_version(&gh, listener, "2", Duration::from_secs(5)).await;

    let status = get(&format!("http://{admin}/status")).await.json();
    assert_eq!(status["reloads"]["failed"], 0, "{status}");
    drop(gh);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_reloads_on_sighup() {
    let echo = spawn_echo().await;
    let dir = scratch_dir();
    let path = dir.join("gatehouse.yaml");
    let (listener, admin) = (local(free_port()), local(free_port()));
    std::fs::write(&path, binary_config(listener, admin, echo.addr, false, 1)).unwrap();
    let gh = start(&path, listener).await;
    wait_version(&gh, listener, "1", Duration::from_secs(1)).await;

    // No watcher: the change alone is not applied…
    std::fs::write(&path, binary_config(listener, admin, echo.addr, false, 2)).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let reply = get(&format!("http://{listener}/v")).await;
    assert_eq!(seen_version(&reply).as_deref(), Some("1"));

    // …until SIGHUP.
    gh.signal("-HUP");
    wait_version(&gh, listener, "2", Duration::from_secs(5)).await;

    let status = get(&format!("http://{admin}/status")).await.json();
    assert_eq!(status["reloads"]["succeeded"], 1, "{status}");
    assert_eq!(status["config"]["version"], 2, "{status}");
    drop(gh);
    let _ = std::fs::remove_dir_all(&dir);
}
