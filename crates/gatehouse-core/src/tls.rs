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

/// Chooses a certificate by SNI: exact name, then `*.` wildcard of the parent domain, then the
/// default — unless `strict` (`tls.strict_sni`), where an SNI that matches no name, or a missing
/// SNI, gets no certificate at all.
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
    strict: bool,
}

impl SniResolver {
    /// The certificate for `server_name` (the client's SNI), if any.
    fn certificate(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = server_name else {
            return (!self.strict).then(|| self.default.clone());
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
        (!self.strict).then(|| self.default.clone())
    }

    /// Whether a handshake with this SNI gets a certificate (always, unless strict).
    pub(crate) fn recognizes(&self, server_name: Option<&str>) -> bool {
        !self.strict || self.certificate(server_name).is_some()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // The listener refuses unrecognized names itself, with an `unrecognized_name` alert (see
        // `UNRECOGNIZED_NAME_ALERT`); this is the backstop (rustls then sends `access_denied`).
        self.certificate(hello.server_name())
    }
}

/// A TLS server's terms for a listener: the rustls configuration, the SNI resolver it uses, and
/// the client-certificate policy when the listener has `client_certificates`.
pub(crate) struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    pub(crate) sni: Arc<SniResolver>,
    pub(crate) client_auth: Option<Arc<ClientAuth>>,
}

/// A fatal `unrecognized_name` (112) alert in a plaintext TLS record, sent in place of a
/// ServerHello when `tls.strict_sni` refuses a ClientHello (RFC 6066 §3). Nothing else has been
/// written on the connection yet, so this record cannot interleave with rustls's output.
pub(crate) const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112];

/// Builds the rustls configuration of a listener (ALPN `h2`, `http/1.1`), and its client-certificate
/// policy when it has `client_certificates` (see [`client_auth`]).
pub(crate) fn server_config(listener: &str, tls: &ListenerTls) -> Result<ServerTls, Error> {
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
    let sni = Arc::new(SniResolver {
        exact,
        default,
        strict: tls.strict_sni,
    });
    let mut config = builder.with_cert_resolver(sni.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        sni,
        client_auth,
    })
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
