//! Certificates for the mTLS tests, made with the `openssl` CLI, and a bounded process runner.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The SPIFFE id (URI SAN) of the `good` client certificate.
pub const SPIFFE: &str = "spiffe://acme.test/ns/a/sa/b";

/// Runs `cmd` with stdin closed, killing it after 15 s.
pub async fn run(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                return child.wait_with_output().expect("output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!("{shown} hung:\n{}", String::from_utf8_lossy(&out.stderr));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .expect("blocking task")
}

async fn openssl(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args(args);
    let out = run(cmd).await;
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `{name}.pem` / `{name}.key`, with an `openssl ca` database `{name}-db/`.
async fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "3",
            "-subj",
            &format!("/CN=Gatehouse {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
    .await;
    let db = dir.join(format!("{name}-db"));
    std::fs::create_dir_all(db.join("new")).unwrap();
    std::fs::write(db.join("index.txt"), "").unwrap();
    std::fs::write(db.join("serial"), "1000\n").unwrap();
    std::fs::write(
        db.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = gh\n[gh]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}/new\nserial = {d}/serial\ndefault_md = sha256\npolicy = pol\nunique_subject = no\ncopy_extensions = none\n[pol]\ncommonName = supplied\n",
            d = db.display()
        ),
    )
    .unwrap();
}

/// A leaf `{stem}.pem` / `{stem}.key` signed by `ca`, valid from `start` to `end`
/// (`YYYYMMDDHHMMSSZ`), with the extensions `ext` (one per line).
async fn make_leaf(dir: &Path, ca: &str, stem: &str, cn: &str, ext: &str, start: &str, end: &str) {
    std::fs::write(dir.join(format!("{stem}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{stem}.key"),
            "-out",
            &format!("{stem}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    )
    .await;
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-notext",
            "-config",
            &format!("{ca}-db/ca.cnf"),
            "-cert",
            &format!("{ca}.pem"),
            "-keyfile",
            &format!("{ca}.key"),
            "-in",
            &format!("{stem}.csr"),
            "-out",
            &format!("{stem}.pem"),
            "-startdate",
            start,
            "-enddate",
            end,
            "-extfile",
            &format!("{stem}.ext"),
        ],
    )
    .await;
}

const CLIENT_EXT: &str =
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";

/// CA `ca`, another CA `other`, the server certificate (`gw.test`) and the client certificates:
/// `good` (CN acme-client, DNS client.acme.test, URI SPIFFE id), `beta` (CN only), `stranger`
/// (maps to nobody), `expired`, `future` (not yet valid) and `rogue` (signed by `other`).
pub async fn make_certs(dir: &Path) {
    make_ca(dir, "ca").await;
    make_ca(dir, "other").await;
    let (now, later) = ("20200101000000Z", "20991231000000Z");
    let server = "subjectAltName=DNS:gw.test\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
    make_leaf(dir, "ca", "server", "gw.test", server, now, later).await;
    let good = format!("{CLIENT_EXT}subjectAltName=DNS:client.acme.test,URI:{SPIFFE}\n");
    make_leaf(dir, "ca", "good", "acme-client", &good, now, later).await;
    make_leaf(dir, "ca", "beta", "beta-client", CLIENT_EXT, now, later).await;
    let stranger = format!("{CLIENT_EXT}subjectAltName=URI:spiffe://other.test/x\n");
    make_leaf(dir, "ca", "stranger", "stranger", &stranger, now, later).await;
    let expired_end = "20200102000000Z";
    make_leaf(dir, "ca", "expired", "acme-client", &good, now, expired_end).await;
    make_leaf(
        dir,
        "ca",
        "future",
        "acme-client",
        &good,
        "20980101000000Z",
        later,
    )
    .await;
    make_leaf(dir, "other", "rogue", "acme-client", &good, now, later).await;
}
