//! The JSON access log end to end: every field of a line, query redaction (configured names and
//! `key_auth`'s query parameter), credentials that never reach the file, per-route disable, drop
//! counting when the writer is stuck, and reopen on SIGUSR1 through the real binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, get, raw_exchange, scratch_dir, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::process::GatehouseProcess;
use gatehouse_testkit::{free_port, require_server, spawn_echo};
use serde_json::Value;

/// Lines of `path` as JSON, once it has at least `n` (waits up to 5 s; panics otherwise).
async fn lines(path: &Path, n: usize) -> Vec<Value> {
    within("access log lines", async {
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let parsed: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            if parsed.len() >= n {
                return parsed;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// A gateway logging to `log` with `settings` (flow-map entries), consumer `acme` (key
/// `acme-secret-key`), routes `keyed` (`/k`, key_auth with `query_param: apikey`), `quiet`
/// (`/quiet`, `access_log: false`) and `open` (`/open`).
async fn start(upstream: SocketAddr, log: &Path, settings: &str, admin: bool) -> TestGateway {
    let admin = if admin {
        "admin:\n  address: 127.0.0.1:0\n"
    } else {
        "admin:\n  enabled: false\n"
    };
    let yaml = format!(
        r#"listeners:
  - name: public
    address: 127.0.0.1:0
{admin}server:
  watch: false
observability:
  access_log: {{ destination: {{ file: "{}" }}{settings} }}
upstreams:
  backend:
    targets: ["{upstream}"]
consumers:
  - {{ id: acme, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: keyed
    match: {{ path: {{ prefix: /k }} }}
    upstream: backend
    plugins:
      - key_auth: {{ query_param: apikey }}
  - name: quiet
    match: {{ path: {{ prefix: /quiet }} }}
    upstream: backend
    access_log: false
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
"#,
        log.display(),
        sha256_hex_via_cli("acme-secret-key")
    );
    TestGateway::start(&yaml).await
}

#[tokio::test]
async fn every_field_is_logged_and_credentials_never_appear() {
    let echo = spawn_echo().await;
    let log = scratch_dir().join("access.log");
    let settings = ", query: true, redact_query: [token]";
    let gw = start(echo.addr, &log, settings, false).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let url = format!(
        "http://{}/k/items?page=2&token=tok-secret-1&apikey=acme-secret-key",
        gw.addr
    );
    let r = get(
        &url,
        &[
            ("authorization", "Bearer auth-secret-2"),
            ("cookie", "session=cookie-secret-3"),
            ("x-request-id", "req-1"),
            ("user-agent", "log-test/1.0"),
            ("traceparent", &format!("00-{trace}-00f067aa0ba902b7-01")),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let refused = get(
        &format!("http://{}/k/items?apikey=wrong-secret-4", gw.addr),
        &[("x-request-id", "req-2")],
    )
    .await;
    assert_eq!(refused.status, 401);
    let found = lines(&log, 2).await;
    let ok = found.iter().find(|l| l["request_id"] == "req-1").unwrap();
    let expected_query = "page=2&token=REDACTED&apikey=REDACTED";
    let fields = [
        ("trace_id", Value::from(trace)),
        ("client_ip", "127.0.0.1".into()),
        ("method", "GET".into()),
        ("host", "127.0.0.1".into()),
        ("path", "/k/items".into()),
        ("query", expected_query.into()),
        ("protocol", "HTTP/1.1".into()),
        ("status", 200.into()),
        ("upstream", echo.addr.to_string().into()),
        ("route", "keyed".into()),
        ("consumer", "acme".into()),
        ("user_agent", "log-test/1.0".into()),
        ("retries", 0.into()),
        ("short_circuit", Value::Null),
        ("cache", Value::Null),
        ("bytes_in", 0.into()),
        ("bytes_out", (r.body.len() as u64).into()),
    ];
    for (key, value) in fields {
        assert_eq!(ok[key], value, "{key} in {ok}");
    }
    let ts = ok["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
        "{ts}"
    );
    assert_eq!(ok["span_id"].as_str().unwrap().len(), 16);
    assert!(ok["latency_ms"].as_f64().unwrap() >= ok["upstream_latency_ms"].as_f64().unwrap());
    assert!(ok.as_object().unwrap().contains_key("user"));

    let no = found.iter().find(|l| l["request_id"] == "req-2").unwrap();
    assert_eq!(no["status"], 401);
    assert_eq!(no["consumer"], Value::Null);
    assert_eq!(no["upstream"], Value::Null);
    assert_eq!(no["short_circuit"], "auth");
    assert_eq!(no["query"], "apikey=REDACTED");

    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        "tok-secret-1",
        "acme-secret-key",
        "auth-secret-2",
        "cookie-secret-3",
        "wrong-secret-4",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
    assert!(!text.to_ascii_lowercase().contains("cookie"));
    assert!(!text.to_ascii_lowercase().contains("authorization"));
}

#[tokio::test]
async fn bytes_in_counts_the_body_received_even_when_chunked() {
    let echo = spawn_echo().await;
    let log = scratch_dir().join("access.log");
    let gw = start(echo.addr, &log, "", false).await;
    // Chunked (no Content-Length): 11 + 16 = 27 body bytes in two chunks.
    let request = b"POST /open/upload HTTP/1.1\r\nHost: x\r\nx-request-id: req-chunked\r\n\
        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
        b\r\nhello world\r\n10\r\n, sixteen bytes.\r\n0\r\n\r\n";
    let reply = within(
        "chunked upload",
        raw_exchange(gw.addr, request, Duration::from_secs(5)),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let found = lines(&log, 1).await;
    let line = found
        .iter()
        .find(|l| l["request_id"] == "req-chunked")
        .unwrap();
    assert_eq!(line["bytes_in"], 27, "{line}");
}

#[tokio::test]
async fn queries_are_off_by_default_and_routes_can_opt_out() {
    let echo = spawn_echo().await;
    let log = scratch_dir().join("access.log");
    let gw = start(echo.addr, &log, "", false).await;
    let quiet = get(&format!("http://{}/quiet/a?x=1", gw.addr), &[]).await;
    assert_eq!(quiet.status, 200);
    let open = get(&format!("http://{}/open/b?x=1", gw.addr), &[]).await;
    assert_eq!(open.status, 200);
    let found = lines(&log, 1).await;
    // Lines are written in order: the quiet request's line would be first.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let found_now = lines(&log, 1).await;
    assert_eq!(found_now.len(), 1, "{found_now:?}");
    assert_eq!(found[0]["route"], "open");
    assert_eq!(found[0]["path"], "/open/b");
    assert_eq!(found[0]["query"], Value::Null);
}

#[tokio::test]
async fn lines_are_dropped_and_counted_when_the_writer_is_stuck() {
    if !require_server("mkfifo") {
        return;
    }
    let echo = spawn_echo().await;
    let dir = scratch_dir();
    let fifo = dir.join("access.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Nobody reads the FIFO: the writer blocks opening it, and the buffer of 2 fills up.
    let gw = start(echo.addr, &fifo, ", buffer: 2", true).await;
    for _ in 0..10 {
        let r = get(&format!("http://{}/open/x", gw.addr), &[]).await;
        assert_eq!(r.status, 200, "requests never wait for the log");
    }
    let admin = gw.admin.unwrap();
    let metrics = get(&format!("http://{admin}/metrics"), &[]).await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let dropped: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("gatehouse_access_log_dropped_total "))
        .unwrap_or_else(|| panic!("no drop counter in {text}"))
        .trim()
        .parse()
        .unwrap();
    assert!((7..=10).contains(&dropped), "dropped {dropped}");
    // Reading the FIFO unblocks the writer: what was buffered arrives as JSON lines.
    let first = within(
        "read the FIFO",
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(std::fs::File::open(&fifo).unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            line
        }),
    )
    .await
    .unwrap();
    let parsed: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(parsed["route"], "open");
}

#[tokio::test]
async fn sigusr1_reopens_the_file_after_it_was_renamed() {
    let echo = spawn_echo().await;
    let dir = scratch_dir();
    let log = dir.join("access.log");
    let rotated = dir.join("access.log.1");
    let port = free_port();
    let config = dir.join("gatehouse.yaml");
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:{port}\nadmin:\n  enabled: false\nserver:\n  watch: false\nobservability:\n  access_log: {{ destination: {{ file: access.log }} }}\nupstreams:\n  backend:\n    targets: [\"{}\"]\nroutes:\n  - name: all\n    upstream: backend\n",
        echo.addr
    );
    std::fs::write(&config, yaml).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"));
    let gh = GatehouseProcess::spawn(&bin, &config, &dir);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    gh.wait_listening(addr).await;
    let url = |id: &str| (format!("http://{addr}/r"), id.to_owned());
    let send = |(u, id): (String, String)| async move {
        let r = get(&u, &[("x-request-id", &id)]).await;
        assert_eq!(r.status, 200);
    };
    send(url("before-1")).await;
    lines(&log, 1).await;
    std::fs::rename(&log, &rotated).unwrap();
    send(url("before-2")).await;
    lines(&rotated, 2).await;
    gh.signal("-USR1");
    // The reopen happens when the signal is handled; keep logging until the new file appears.
    within("new access.log after SIGUSR1", async {
        let mut n = 0;
        while !log.exists() {
            n += 1;
            send(url(&format!("after-{n}"))).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    send(url("last")).await;
    let new = lines(&log, 1).await;
    let new = within("the last line in the new file", async {
        loop {
            let l = lines(&log, new.len()).await;
            if l.iter().any(|x| x["request_id"] == "last") {
                return l;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let old = lines(&rotated, 2).await;
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|l| l["request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (old, new) = (ids(&old), ids(&new));
    assert_eq!(&old[..2], ["before-1", "before-2"]);
    assert!(new.contains(&"last".to_owned()));
    assert!(old.iter().all(|id| !new.contains(id)), "{old:?} / {new:?}");
}
