//! TLS termination: rustls server configuration with certificates chosen by SNI.

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_config::model::{ListenerTls, TlsVersion};
use rustls::crypto::aws_lc_rs;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

pub(crate) mod client_auth;

pub(crate) use client_auth::ClientAuth;

/// Chooses a certificate by SNI: exact name, then `*.` wildcard of the parent domain, then the default.
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name() else {
            return Some(self.default.clone());
        };
        let name = name.to_ascii_lowercase();
        if let Some(key) = self.exact.get(&name) {
            return Some(key.clone());
        }
        if let Some((_, parent)) = name.split_once('.')
            && let Some(key) = self.exact.get(&format!("*.{parent}"))
        {
            return Some(key.clone());
        }
        Some(self.default.clone())
    }
}

/// Builds the rustls configuration of a listener (ALPN `h2`, `http/1.1`), and its client-certificate
/// policy when it has `client_certificates` (see [`client_auth`]).
pub(crate) fn server_config(
    listener: &str,
    tls: &ListenerTls,
) -> Result<(Arc<rustls::ServerConfig>, Option<Arc<ClientAuth>>), Error> {
    let fail = |message: String| Error::Listener {
        name: listener.to_owned(),
        message,
    };
    let provider = Arc::new(aws_lc_rs::default_provider());
    let mut exact = HashMap::new();
    let mut default = None;
    for cert in &tls.certificates {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.cert)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| {
                fail(format!(
                    "cannot read certificate {}: {e}",
                    cert.cert.display()
                ))
            })?;
        if chain.is_empty() {
            return Err(fail(format!("no certificate in {}", cert.cert.display())));
        }
        let key = PrivateKeyDer::from_pem_file(&cert.key).map_err(|e| {
            fail(format!(
                "cannot read private key {}: {e}",
                cert.key.display()
            ))
        })?;
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| fail(format!("unusable private key {}: {e}", cert.key.display())))?;
        let certified = Arc::new(CertifiedKey::new(chain.clone(), signing));
        let names = if cert.server_names.is_empty() {
            dns_names(&chain[0])
        } else {
            cert.server_names
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect()
        };
        for name in names {
            exact.entry(name).or_insert_with(|| certified.clone());
        }
        default.get_or_insert(certified);
    }
    let default = default.ok_or_else(|| fail("no certificate configured".to_owned()))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| fail(format!("TLS setup: {e}")))?;
    let (builder, client_auth) = match &tls.client_certificates {
        None => (builder.with_no_client_auth(), None),
        Some(cfg) => {
            let (verifier, auth) = ClientAuth::new(cfg, provider, &fail)?;
            (
                builder.with_client_cert_verifier(verifier),
                Some(Arc::new(auth)),
            )
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { exact, default }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), client_auth))
}

/// The DNS names (SAN) of a certificate, lower-cased.
fn dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok(parsed) = webpki::EndEntityCert::try_from(cert) else {
        return Vec::new();
    };
    parsed
        .valid_dns_names()
        .map(|n| n.to_ascii_lowercase())
        .collect()
}
