//! Client certificates on TLS listeners (mTLS): the rustls verifier a listener uses, and what a
//! connection learns from the certificate its client presented.
//!
//! `mode: require` refuses handshakes without a certificate; `mode: request` accepts them (routes
//! with `mtls` then answer 401). With `on_invalid: fail_handshake` (default) an invalid chain
//! (expired, not yet valid, unknown CA, wrong key usage) fails the handshake. With
//! `on_invalid: unauthorized` the handshake accepts any certificate whose holder proves possession
//! of its key, and the chain is checked again after the handshake: rustls verifiers have no
//! per-connection state, so the connection re-runs the strict webpki verifier on
//! `peer_certificates()` itself to learn whether the certificate is `verified`.

use std::path::Path;
use std::sync::Arc;

use gatehouse_config::model::{ClientCertMode, ClientCertificates, InvalidCertAction};
use gatehouse_plugins::ClientCert;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::Error;

/// A listener's client-certificate policy, kept for the connections it accepts.
#[derive(Debug)]
pub(crate) struct ClientAuth {
    /// The strict verifier (CA bundle, validity, client-auth key usage).
    strict: Arc<dyn ClientCertVerifier>,
    /// Whether the handshake let invalid chains through (they must be re-checked).
    lenient: bool,
}

impl ClientAuth {
    /// Reads the CA bundles of `cfg` and builds the verifier the listener's rustls configuration
    /// uses, plus the policy its connections apply after the handshake.
    pub(crate) fn new(
        cfg: &ClientCertificates,
        provider: Arc<CryptoProvider>,
        fail: &dyn Fn(String) -> Error,
    ) -> Result<(Arc<dyn ClientCertVerifier>, ClientAuth), Error> {
        let mut roots = RootCertStore::empty();
        for path in &cfg.ca {
            let certs = read_certs(path).map_err(fail)?;
            if certs.is_empty() {
                return Err(fail(format!(
                    "no certificate in CA bundle {}",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    fail(format!(
                        "unusable CA certificate in {}: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        if cfg.mode == ClientCertMode::Request {
            builder = builder.allow_unauthenticated();
        }
        let strict = builder
            .build()
            .map_err(|e| fail(format!("client certificate verifier: {e}")))?;
        let lenient = cfg.on_invalid == InvalidCertAction::Unauthorized;
        let handshake: Arc<dyn ClientCertVerifier> = if lenient {
            Arc::new(AcceptInvalid {
                inner: strict.clone(),
            })
        } else {
            strict.clone()
        };
        Ok((handshake, ClientAuth { strict, lenient }))
    }

    /// What a completed handshake tells about the client's certificate (`None`: none presented).
    pub(crate) fn client_cert(&self, chain: Option<&[CertificateDer<'_>]>) -> Option<ClientCert> {
        let (leaf, intermediates) = chain?.split_first()?;
        // Without `on_invalid: unauthorized` the handshake only completes with a valid chain.
        let verified = !self.lenient
            || self
                .strict
                .verify_client_cert(leaf, intermediates, UnixTime::now())
                .is_ok();
        let mut cert = describe(leaf);
        cert.verified = verified;
        Some(cert)
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read CA bundle {}: {e}", path.display()))
}

/// The identities of a certificate (`verified` left false): subject CNs, DNS SANs (lower-cased),
/// URI SANs. A certificate webpki cannot parse yields no identity.
pub(crate) fn describe(leaf: &CertificateDer<'_>) -> ClientCert {
    let mut cert = ClientCert {
        der: leaf.as_ref().to_vec(),
        ..ClientCert::default()
    };
    if let Ok(parsed) = webpki::EndEntityCert::try_from(leaf) {
        cert.common_names = common_names(parsed.subject());
        cert.dns_sans = parsed
            .valid_dns_names()
            .map(|n| n.to_ascii_lowercase())
            .collect();
        cert.uri_sans = parsed.valid_uri_names().map(str::to_owned).collect();
    }
    cert
}

/// The handshake verifier of `on_invalid: unauthorized`: every check of the strict verifier, but
/// an invalid chain is let through (the connection re-checks it, see [`ClientAuth::client_cert`]).
/// Signatures are still verified, so the client must hold the certificate's private key.
#[derive(Debug)]
struct AcceptInvalid {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for AcceptInvalid {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if let Err(e) = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            tracing::debug!(error = %e, "invalid client certificate accepted as unverified");
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

// === DER: the subject's common names ===

/// The `CN` attribute values of a DER `Name` given without its outer `SEQUENCE` header (as
/// webpki returns it). Malformed input yields what was read before the error.
pub(crate) fn common_names(mut name: &[u8]) -> Vec<String> {
    const SET: u8 = 0x31;
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let mut out = Vec::new();
    while let Some((SET, mut rdn, rest)) = tlv(name) {
        name = rest;
        while let Some((SEQUENCE, atv, rest)) = tlv(rdn) {
            rdn = rest;
            if let Some((OID, CN, value)) = tlv(atv)
                && let Some((tag, value, _)) = tlv(value)
                && let Some(text) = directory_string(tag, value)
            {
                out.push(text);
            }
        }
    }
    out
}

/// One DER element: (tag, contents, what follows). Only single-byte tags and definite lengths.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return None;
    }
    let (value, after) = rest.split_at(len);
    Some((tag, value, after))
}

/// Text of a `DirectoryString`-like value: UTF8String, PrintableString, IA5String, TeletexString
/// (ASCII only) or BMPString.
fn directory_string(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        0x0c => std::str::from_utf8(value).ok().map(str::to_owned),
        0x13 | 0x16 | 0x14 if value.is_ascii() => {
            std::str::from_utf8(value).ok().map(str::to_owned)
        }
        0x1e if value.len().is_multiple_of(2) => {
            let units = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
