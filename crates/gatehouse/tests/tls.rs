//! TLS termination end to end, checked with the `openssl` and `curl` command-line tools:
//! SNI certificate choice, protocol versions, ALPN (h2 / http/1.1), `X-Forwarded-Proto`, and TLS
//! towards an upstream (an `openssl s_server`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_testkit::certs::{make_key_and_csr, make_self_signed_ca, openssl, run_bounded};
use gatehouse_testkit::gateway::{TestGateway, get, scratch_dir};
use gatehouse_testkit::{free_port, require_server, spawn_echo};

/// A CA and two leaf certificates (`a.test`, `b.test`, EC P-256) signed by it, in `dir`.
async fn make_certs(dir: &Path) {
    make_self_signed_ca(dir, "ca", "2", "/CN=Gatehouse Test CA").await;
    for name in ["a.test", "b.test"] {
        let stem = &name[..1];
        let ext = dir.join(format!("{stem}.ext"));
        std::fs::write(
            &ext,
            format!(
                "subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        make_key_and_csr(dir, stem, name).await;
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{stem}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{stem}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{stem}.ext"),
            ],
        )
        .await;
    }
}

fn tls_config(dir: &Path, upstream: SocketAddr, min_version: &str) -> String {
    let d = dir.display();
    format!(
        "listeners:\n  - name: tls\n    address: 127.0.0.1:0\n    tls:\n      certificates:\n        - {{ cert: {d}/a.pem, key: {d}/a.key }}\n        - {{ cert: {d}/b.pem, key: {d}/b.key, server_names: [b.test] }}\n      min_version: \"{min_version}\"\nadmin:\n  address: 127.0.0.1:0\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n"
    )
}

/// What `openssl s_client` saw: whether the handshake succeeded, and the served subject.
struct Handshake {
    ok: bool,
    subject: Option<String>,
    output: String,
}

async fn s_client(addr: SocketAddr, extra: &[&str]) -> Handshake {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string()])
        .args(extra);
    let out = run_bounded(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let output = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let subject = stdout
        .lines()
        .find_map(|l| l.strip_prefix("subject="))
        .map(|s| s.trim().to_owned());
    Handshake {
        ok: out.status.success() && stdout.contains("-----BEGIN CERTIFICATE-----"),
        subject,
        output,
    }
}

fn cn(subject: &Option<String>) -> String {
    let s = subject.as_deref().unwrap_or_default();
    // OpenSSL 3 prints `CN = a.test`, older versions `/CN=a.test`.
    s.rsplit("CN")
        .next()
        .unwrap_or_default()
        .trim_start_matches([' ', '='])
        .trim()
        .to_owned()
}

/// Handshakes with `s_client {extra}` and asserts that it succeeds and that the server's
/// certificate has CN `expected` (`label` prefixes the failure message).
async fn assert_certificate(addr: SocketAddr, extra: &[&str], expected: &str, label: &str) {
    let h = s_client(addr, extra).await;
    assert!(h.ok, "{}", h.output);
    assert_eq!(cn(&h.subject), expected, "{label}{}", h.output);
}

fn tools() -> bool {
    require_server("openssl") && require_server("curl")
}

async fn setup() -> Option<(PathBuf, gatehouse_testkit::Upstream)> {
    if !tools() {
        return None;
    }
    let dir = scratch_dir();
    tokio::time::timeout(Duration::from_secs(30), make_certs(&dir))
        .await
        .expect("certificate generation timed out");
    Some((dir, spawn_echo().await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_selects_the_certificate() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    let gw = TestGateway::start(&tls_config(&dir, echo.addr, "1.2")).await;

    assert_certificate(gw.addr, &["-servername", "b.test"], "b.test", "").await;
    assert_certificate(gw.addr, &["-servername", "a.test"], "a.test", "").await;
    let default = "default certificate: ";
    assert_certificate(gw.addr, &["-noservername"], "a.test", default).await;
    assert_certificate(gw.addr, &["-servername", "unknown.test"], "a.test", default).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_sni_refuses_unknown_and_missing_names() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    // `b.test` also answers for `*.b.test`.
    let yaml = tls_config(&dir, echo.addr, "1.2")
        .replace(
            "server_names: [b.test]",
            "server_names: [b.test, \"*.b.test\"]",
        )
        .replace(
            "min_version: \"1.2\"",
            "min_version: \"1.2\"\n      strict_sni: true",
        );
    let gw = TestGateway::start(&yaml).await;

    assert_certificate(gw.addr, &["-servername", "a.test"], "a.test", "").await;
    assert_certificate(gw.addr, &["-servername", "B.Test"], "b.test", "").await;
    assert_certificate(
        gw.addr,
        &["-servername", "x.b.test"],
        "b.test",
        "wildcard: ",
    )
    .await;
    for (what, extra) in [
        ("unknown name", &["-servername", "unknown.test"][..]),
        ("parent of a wildcard", &["-servername", "test"][..]),
        (
            "nested under a wildcard",
            &["-servername", "y.x.b.test"][..],
        ),
        ("no SNI", &["-noservername"][..]),
    ] {
        for version in ["-tls1_2", "-tls1_3"] {
            let h = s_client(gw.addr, &[extra, &[version]].concat()).await;
            assert!(!h.ok, "{what} {version} accepted:\n{}", h.output);
            assert!(
                h.output.contains("unrecognized name") || h.output.contains("alert number 112"),
                "{what} {version}: not an unrecognized_name alert:\n{}",
                h.output
            );
        }
    }
    // Counted for the listener.
    let admin = gw.admin.expect("admin listener");
    let metrics = get(&format!("http://{admin}/metrics"), &[]).await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains(
            "gatehouse_connections_refused_total{listener=\"tls\",reason=\"unrecognized_name\"} 8"
        ),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_versions() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    let gw = TestGateway::start(&tls_config(&dir, echo.addr, "1.2")).await;
    let sni = ["-servername", "a.test"];

    // SECLEVEL=0 so that the client really offers TLS 1.1 and the refusal is the server's.
    let v11 = s_client(
        gw.addr,
        &[&sni[..], &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]].concat(),
    )
    .await;
    assert!(!v11.ok, "TLS 1.1 accepted:\n{}", v11.output);
    let v12 = s_client(gw.addr, &[&sni[..], &["-tls1_2"]].concat()).await;
    assert!(v12.ok, "TLS 1.2 refused:\n{}", v12.output);
    assert!(v12.output.contains("TLSv1.2"), "{}", v12.output);
    let v13 = s_client(gw.addr, &[&sni[..], &["-tls1_3"]].concat()).await;
    assert!(v13.ok, "TLS 1.3 refused:\n{}", v13.output);
    assert!(v13.output.contains("TLSv1.3"), "{}", v13.output);
    drop(gw);

    let gw = TestGateway::start(&tls_config(&dir, echo.addr, "1.3")).await;
    let v12 = s_client(gw.addr, &[&sni[..], &["-tls1_2"]].concat()).await;
    assert!(
        !v12.ok,
        "TLS 1.2 accepted with min_version 1.3:\n{}",
        v12.output
    );
    let v13 = s_client(gw.addr, &[&sni[..], &["-tls1_3"]].concat()).await;
    assert!(v13.ok, "TLS 1.3 refused:\n{}", v13.output);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_h2_and_http11_proxied_with_forwarded_proto() {
    let Some((dir, echo)) = setup().await else {
        return;
    };
    let gw = TestGateway::start(&tls_config(&dir, echo.addr, "1.2")).await;
    let port = gw.addr.port();
    for (flag, expected) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            &dir.join("ca.pem").display().to_string(),
            "--resolve",
            &format!("a.test:{port}:127.0.0.1"),
            flag,
            "-w",
            "\n%{http_code} %{http_version}",
            &format!("https://a.test:{port}/x"),
        ]);
        let out = run_bounded(cmd).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "curl {flag}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (body, meta) = stdout.rsplit_once('\n').expect("curl -w line");
        assert_eq!(meta, format!("200 {expected}"), "curl {flag}: {stdout}");
        let seen: serde_json::Value = serde_json::from_str(body).expect("echo JSON");
        assert_eq!(seen["path"], "/x", "{seen}");
        assert_eq!(
            seen["headers"]["x-forwarded-proto"][0], "https",
            "curl {flag}: {seen}"
        );
    }
    assert_eq!(echo.hits(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// TLS towards the upstream: the testkit has no TLS upstream, so `openssl s_server -www` (an
/// HTTP/1.0 status page over TLS) plays it, verified against the test CA with `server_name`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_upstream() {
    let Some((dir, _echo)) = setup().await else {
        return;
    };
    let port = free_port();
    let mut server = Command::new("openssl")
        .current_dir(&dir)
        .args([
            "s_server",
            "-accept",
            &port.to_string(),
            "-cert",
            "b.pem",
            "-key",
            "b.key",
            "-www",
            "-quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(server.try_wait().unwrap().is_none(), "s_server exited");
        assert!(Instant::now() < deadline, "s_server not listening");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _server = Kill(server);

    let d = dir.display();
    let yaml = |server_name: &str| {
        format!(
            "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nserver:\n  watch: false\nupstreams:\n  secure:\n    targets: [\"127.0.0.1:{port}\"]\n    tls: {{ ca: {d}/ca.pem, server_name: {server_name} }}\n    timeouts: {{ connect: 2s, request: 5s }}\nroutes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: secure\n"
        )
    };
    let get_root = |gw: &TestGateway| {
        let url = gw.url("/");
        async move {
            tokio::time::timeout(Duration::from_secs(10), get(&url, &[]))
                .await
                .expect("request timed out")
        }
    };
    let gw = TestGateway::start(&yaml("b.test")).await;
    let reply = get_root(&gw).await;
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "{body}");
    assert!(body.contains("s_server"), "not the s_server page: {body}");
    drop(gw);

    // A name the certificate does not carry fails verification: 502.
    let gw = TestGateway::start(&yaml("wrong.test")).await;
    let reply = get_root(&gw).await;
    assert_eq!(
        reply.status,
        502,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
