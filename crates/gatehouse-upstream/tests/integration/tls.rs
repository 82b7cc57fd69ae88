//! TLS to a target with a self-signed certificate pinned as the CA.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_config::model::{UpstreamProtocol, UpstreamTls};
use gatehouse_upstream::Cluster;
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::support::{Origin, fetch, reply, serve, upstream};

/// A TLS origin for `localhost` and 127.0.0.1, and the path of its certificate as a PEM CA file.
async fn tls_origin() -> (Origin, PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    static FILES: AtomicUsize = AtomicUsize::new(0);
    let ca = std::env::temp_dir().join(format!(
        "gatehouse-upstream-ca-{}-{}.pem",
        std::process::id(),
        FILES.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&ca, certified.cert.pem()).unwrap();

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let origin = serve(Some(acceptor), |req| async move {
        reply(200, format!("{:?}", req.version()))
    })
    .await;
    (origin, ca)
}

fn tls(ca: Option<PathBuf>, server_name: Option<&str>, insecure: bool) -> Option<UpstreamTls> {
    Some(UpstreamTls {
        server_name: server_name.map(str::to_owned),
        ca,
        insecure_skip_verify: insecure,
    })
}

#[tokio::test]
async fn https_with_pinned_ca_verifies_the_ip_address() {
    let (origin, ca) = tls_origin().await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.tls = tls(Some(ca.clone()), None, false);
    let cluster = Cluster::new(&cfg).unwrap();
    for _ in 0..3 {
        assert_eq!(
            fetch(&cluster, "/").await.unwrap(),
            (200, "HTTP/1.1".into())
        );
    }
    assert_eq!(origin.connections(), 1);
    let _ = std::fs::remove_file(ca);
}

#[tokio::test]
async fn h2_over_tls_with_server_name() {
    let (origin, ca) = tls_origin().await;
    let mut cfg = upstream(&[origin.address()]);
    cfg.tls = tls(Some(ca.clone()), Some("localhost"), false);
    cfg.protocol = UpstreamProtocol::Http2;
    let cluster = Cluster::new(&cfg).unwrap();
    assert_eq!(
        fetch(&cluster, "/").await.unwrap(),
        (200, "HTTP/2.0".into())
    );
    let _ = std::fs::remove_file(ca);
}

#[tokio::test]
async fn untrusted_or_misnamed_certificates_fail_to_connect() {
    let (origin, ca) = tls_origin().await;

    // Mozilla roots do not know the self-signed certificate.
    let mut cfg = upstream(&[origin.address()]);
    cfg.tls = tls(None, None, false);
    let err = fetch(&Cluster::new(&cfg).unwrap(), "/").await.unwrap_err();
    assert!(err.is_connect(), "{err}");

    // The right CA but a name the certificate does not carry.
    cfg.tls = tls(Some(ca.clone()), Some("other.test"), false);
    let err = fetch(&Cluster::new(&cfg).unwrap(), "/").await.unwrap_err();
    assert!(err.is_connect(), "{err}");

    // Tests-only escape hatch.
    cfg.tls = tls(None, Some("other.test"), true);
    let cluster = Cluster::new(&cfg).unwrap();
    assert_eq!(fetch(&cluster, "/").await.unwrap().0, 200);
    let _ = std::fs::remove_file(ca);
}
