//! Certificates for the mTLS tests, made with the `openssl` CLI (through `gatehouse_testkit::certs`).

use std::path::Path;

use gatehouse_testkit::certs::{make_key_and_csr, make_self_signed_ca, openssl};

/// The SPIFFE id (URI SAN) of the `good` client certificate.
pub const SPIFFE: &str = "spiffe://acme.test/ns/a/sa/b";

/// A self-signed CA `{name}.pem` / `{name}.key`, with an `openssl ca` database `{name}-db/`.
async fn make_ca(dir: &Path, name: &str) {
    make_self_signed_ca(dir, name, "3", &format!("/CN=Gatehouse {name}")).await;
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
    make_key_and_csr(dir, stem, cn).await;
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
