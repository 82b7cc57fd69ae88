//! mTLS end to end: client certificates on a TLS listener (`mode: require | request`,
//! `on_invalid: fail_handshake | unauthorized`) and the `mtls` authentication method, with
//! certificates made by the `openssl` CLI (`openssl ca` for past and future validity periods)
//! and requests made by `curl` and `openssl s_client`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, scratch_dir};
use gatehouse_testkit::{require_server, spawn_echo};
use serde_json::Value;

#[path = "mtls/certs.rs"]
mod certs;

use certs::{SPIFFE, make_certs};
use gatehouse_testkit::certs::run_bounded;

async fn setup() -> Option<(PathBuf, gatehouse_testkit::Upstream)> {
    if !(require_server("openssl") && require_server("curl")) {
        return None;
    }
    let dir = scratch_dir();
    tokio::time::timeout(Duration::from_secs(60), make_certs(&dir))
        .await
        .expect("certificate generation timed out");
    Some((dir, spawn_echo().await))
}

/// A gateway with one TLS listener whose client certificates are `client_certs` (YAML flow map),
/// consumers `acme` (URI SAN), `beta` (CN), `guest`, `by-dns` (DNS SAN), and routes `/m` (mtls),
/// `/strict` (mtls, require_consumer), `/dns` (mtls on DNS SANs only), `/anon` (mtls, anonymous
/// consumer `guest`) and `/open`.
async fn gateway(dir: &Path, upstream: SocketAddr, client_certs: &str) -> TestGateway {
    let d = dir.display();
    let yaml = format!(
        "listeners:
  - name: tls
    address: 127.0.0.1:0
    tls:
      certificates: [{{ cert: {d}/server.pem, key: {d}/server.key }}]
      client_certificates: {client_certs}
admin:
  enabled: false
server:
  watch: false
consumers:
  - {{ id: acme, tenant: acme-corp, certificates: [{{ uri: \"{SPIFFE}\" }}] }}
  - {{ id: beta, certificates: [{{ cn: beta-client }}] }}
  - {{ id: guest }}
  - {{ id: by-dns, certificates: [{{ dns: CLIENT.acme.test }}] }}
upstreams:
  backend:
    targets: [\"{upstream}\"]
routes:
  - name: strict
    match: {{ path: {{ prefix: /strict }} }}
    upstream: backend
    plugins:
      - mtls: {{ require_consumer: true }}
  - name: anon
    match: {{ path: {{ prefix: /anon }} }}
    upstream: backend
    auth: {{ anonymous: guest }}
    plugins:
      - mtls: {{}}
  - name: dns
    match: {{ path: {{ prefix: /dns }} }}
    upstream: backend
    plugins:
      - mtls: {{ match_on: [dns_san] }}
  - name: m
    match: {{ path: {{ prefix: /m }} }}
    upstream: backend
    plugins:
      - mtls: {{}}
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
"
    );
    TestGateway::start(&yaml).await
}

/// What curl got: `None` when no HTTP response came (handshake refused), else status, headers
/// text and body.
struct Got {
    status: Option<u16>,
    head: String,
    body: String,
    stderr: String,
}

impl Got {
    fn echo(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `curl https://gw.test:PORT{path}` with client certificate `cert` (`None`: none) and headers.
async fn curl(
    gw: &TestGateway,
    dir: &Path,
    path: &str,
    cert: Option<&str>,
    headers: &[&str],
) -> Got {
    let port = gw.addr.port();
    let mut cmd = Command::new("curl");
    cmd.current_dir(dir).args([
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        "ca.pem",
        "--resolve",
        &format!("gw.test:{port}:127.0.0.1"),
        "-D",
        "-",
        "-w",
        "\n%{http_code}",
    ]);
    if let Some(stem) = cert {
        cmd.args([
            "--cert",
            &format!("{stem}.pem"),
            "--key",
            &format!("{stem}.key"),
        ]);
    }
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(format!("https://gw.test:{port}{path}"));
    let out = run_bounded(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (rest, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let status = code
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|c| *c != 0 && out.status.success());
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    Got {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
        stderr,
    }
}

/// `openssl s_client -tls1_2` with client certificate `stem`; stdout and stderr.
async fn s_client_tls12(dir: &Path, addr: SocketAddr, stem: &str) -> String {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args([
        "s_client",
        "-tls1_2",
        "-connect",
        &addr.to_string(),
        "-servername",
        "gw.test",
        "-CAfile",
        "ca.pem",
        "-cert",
        &format!("{stem}.pem"),
        "-key",
        &format!("{stem}.key"),
    ]);
    let out = run_bounded(cmd).await;
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn header(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_refused(got: &Got, what: &str) {
    assert_eq!(got.status, None, "{what}: handshake accepted\n{}", got.body);
}

fn assert_401(got: &Got, what: &str) {
    assert_eq!(got.status, Some(401), "{what}\n{}{}", got.body, got.stderr);
    assert!(
        got.head
            .contains("www-authenticate: clientcert realm=\"gatehouse\""),
        "{what}: {}",
        got.head
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_mode_refuses_missing_and_invalid_certificates_and_maps_valid_ones() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    let cfg = format!("{{ ca: [{}/ca.pem], mode: require }}", dir.display());
    let gw = gateway(&dir, echo.addr, &cfg).await;

    assert_refused(&curl(&gw, &dir, "/open", None, &[]).await, "no certificate");
    for bad in ["expired", "future", "rogue"] {
        assert_refused(&curl(&gw, &dir, "/m", Some(bad), &[]).await, bad);
    }

    let got = curl(
        &gw,
        &dir,
        "/m",
        Some("good"),
        &["x-client-cert-identity: forged", "x-consumer-id: forged"],
    )
    .await;
    assert_eq!(got.status, Some(200), "{}{}", got.body, got.stderr);
    let e = got.echo();
    assert_eq!(header(&e, "x-consumer-id"), vec!["acme"]);
    assert_eq!(header(&e, "x-tenant-id"), vec!["acme-corp"]);
    assert_eq!(header(&e, "x-client-cert-identity"), vec![SPIFFE]);

    // match_on [dns_san]: the same certificate maps by its DNS SAN (compared lower-case).
    let got = curl(&gw, &dir, "/dns", Some("good"), &[]).await;
    assert_eq!(got.status, Some(200), "{}", got.body);
    assert_eq!(header(&got.echo(), "x-consumer-id"), vec!["by-dns"]);
    assert_eq!(
        header(&got.echo(), "x-client-cert-identity"),
        vec!["client.acme.test"]
    );

    // Mapped by CN.
    let got = curl(&gw, &dir, "/strict", Some("beta"), &[]).await;
    assert_eq!(got.status, Some(200), "{}", got.body);
    assert_eq!(header(&got.echo(), "x-consumer-id"), vec!["beta"]);
    assert_eq!(
        header(&got.echo(), "x-client-cert-identity"),
        vec!["beta-client"]
    );

    // Verified but unmapped: its own subject on /m, 401 where a consumer is required.
    let got = curl(&gw, &dir, "/m", Some("stranger"), &[]).await;
    assert_eq!(got.status, Some(200), "{}", got.body);
    assert_eq!(header(&got.echo(), "x-consumer-id"), Vec::<String>::new());
    assert_eq!(
        header(&got.echo(), "x-user-id"),
        vec!["spiffe://other.test/x"]
    );
    assert_401(
        &curl(&gw, &dir, "/strict", Some("stranger"), &[]).await,
        "unmapped",
    );

    // openssl s_client, TLS 1.2: the server's alert names the reason.
    let good = s_client_tls12(&dir, gw.addr, "good").await;
    assert!(
        good.contains("Verify return code: 0") && !good.contains("alert"),
        "valid certificate refused:\n{good}"
    );
    for (stem, alert) in [
        ("expired", "alert certificate expired"),
        ("rogue", "alert unknown ca"),
    ] {
        let out = s_client_tls12(&dir, gw.addr, stem).await;
        assert!(out.contains(alert), "{stem}: no `{alert}`:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_mode_lets_anonymous_connections_in_but_mtls_routes_answer_401() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    let cfg = format!("{{ ca: [{}/ca.pem], mode: request }}", dir.display());
    let gw = gateway(&dir, echo.addr, &cfg).await;

    let got = curl(
        &gw,
        &dir,
        "/open",
        None,
        &["x-client-cert-identity: forged"],
    )
    .await;
    assert_eq!(got.status, Some(200), "{}{}", got.body, got.stderr);
    assert_eq!(
        header(&got.echo(), "x-client-cert-identity"),
        Vec::<String>::new()
    );
    assert_401(
        &curl(&gw, &dir, "/m", None, &[]).await,
        "no certificate on an mtls route",
    );
    // No certificate on an mtls route with an anonymous consumer: anonymous.
    let got = curl(&gw, &dir, "/anon", None, &[]).await;
    assert_eq!(got.status, Some(200), "{}", got.body);
    assert_eq!(header(&got.echo(), "x-consumer-id"), vec!["guest"]);
    // Invalid certificates still fail the handshake (on_invalid defaults to fail_handshake).
    assert_refused(&curl(&gw, &dir, "/open", Some("rogue"), &[]).await, "rogue");
    let got = curl(&gw, &dir, "/m", Some("good"), &[]).await;
    assert_eq!(got.status, Some(200), "{}", got.body);
    assert_eq!(header(&got.echo(), "x-consumer-id"), vec!["acme"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_invalid_unauthorized_accepts_the_handshake_and_answers_401_on_mtls_routes() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    let cfg = format!(
        "{{ ca: [{}/ca.pem], mode: require, on_invalid: unauthorized }}",
        dir.display()
    );
    let gw = gateway(&dir, echo.addr, &cfg).await;

    assert_refused(&curl(&gw, &dir, "/open", None, &[]).await, "no certificate");
    for bad in ["expired", "future", "rogue"] {
        let got = curl(
            &gw,
            &dir,
            "/open",
            Some(bad),
            &["x-client-cert-identity: forged"],
        )
        .await;
        assert_eq!(got.status, Some(200), "{bad}: {}{}", got.body, got.stderr);
        assert_eq!(
            header(&got.echo(), "x-client-cert-identity"),
            Vec::<String>::new(),
            "{bad}"
        );
        assert_401(&curl(&gw, &dir, "/m", Some(bad), &[]).await, bad);
        // An invalid certificate is a refusal, never anonymous access.
        assert_401(&curl(&gw, &dir, "/anon", Some(bad), &[]).await, bad);
    }
    let got = curl(&gw, &dir, "/m", Some("good"), &[]).await;
    assert_eq!(got.status, Some(200), "{}", got.body);
    assert_eq!(header(&got.echo(), "x-client-cert-identity"), vec![SPIFFE]);
    let _ = std::fs::remove_dir_all(&dir);
}
