//! rustls client configuration (aws-lc-rs provider only).

use std::path::Path;
use std::sync::Arc;

use gatehouse_config::model::{UpstreamProtocol, UpstreamTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

use crate::Error;

/// What the connector needs for TLS: the shared rustls config and the SNI override.
#[derive(Clone)]
pub(crate) struct TlsSettings {
    pub(crate) connector: TlsConnector,
    /// `UpstreamTls::server_name`; `None` = each target's host.
    pub(crate) server_name: Option<ServerName<'static>>,
}

/// Builds the TLS settings of cluster `cluster`.
pub(crate) fn settings(
    cluster: &str,
    tls: &UpstreamTls,
    protocol: UpstreamProtocol,
) -> Result<TlsSettings, Error> {
    let server_name = tls
        .server_name
        .as_ref()
        .map(|name| {
            ServerName::try_from(name.clone()).map_err(|e| {
                Error::build(cluster, format!("invalid tls.server_name {name:?}: {e}"))
            })
        })
        .transpose()?;
    let config = client_config(cluster, tls, protocol)?;
    Ok(TlsSettings {
        connector: TlsConnector::from(Arc::new(config)),
        server_name,
    })
}

fn client_config(
    cluster: &str,
    tls: &UpstreamTls,
    protocol: UpstreamProtocol,
) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::build(cluster, format!("TLS setup: {e}")))?;
    let mut config = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(&provider)))
            .with_no_client_auth()
    } else {
        let roots = match &tls.ca {
            Some(path) => load_ca(cluster, path)?,
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = match protocol {
        UpstreamProtocol::Http1 => vec![b"http/1.1".to_vec()],
        UpstreamProtocol::Http2 => vec![b"h2".to_vec()],
    };
    Ok(config)
}

/// Reads every certificate of a PEM bundle into a root store; an empty bundle is an error.
fn load_ca(cluster: &str, path: &Path) -> Result<RootCertStore, Error> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::build(cluster, format!("tls.ca {shown}: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        let cert = cert.map_err(|e| Error::build(cluster, format!("tls.ca {shown}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::build(cluster, format!("tls.ca {shown}: bad certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::build(
            cluster,
            format!("tls.ca {shown}: no certificate found"),
        ));
    }
    Ok(roots)
}

/// Accepts any server certificate, for `insecure_skip_verify` — **tests only**: it makes TLS
/// encrypt without authenticating the server. Handshake signatures are still checked, so the peer
/// must hold the key of the certificate it presents.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyServerCert {
    fn new(provider: &CryptoProvider) -> Self {
        AcceptAnyServerCert {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
