//! `mtls`: authentication by the client certificate of the TLS connection.
//!
//! The listener verifies the certificate (`listeners[].tls.client_certificates`) and the data plane
//! puts what it found into [`RequestContext::client_cert`]. This method then decides:
//!
//! - no client certificate → [`AuthOutcome::NoCredentials`] (the route's gate answers 401, or
//!   uses its anonymous consumer);
//! - a certificate that did not verify (`on_invalid: unauthorized` listeners only) → 401;
//! - a verified certificate → the first of its identities, tried field by field in `match_on`
//!   order (default URI SAN, DNS SAN, CN), that maps to a configured consumer; the identity of
//!   the consumer, with [`Identity::client_cert`] set to the identity that matched;
//! - verified but no consumer: 401 with `require_consumer`, else an identity with no consumer,
//!   whose subject and `client_cert` are the certificate's first identity in `match_on` order.
//!   A certificate carrying none of the `match_on` fields gets 401.
//!
//! 401 answers carry `WWW-Authenticate: ClientCert realm="gatehouse"` (no registered HTTP
//! scheme describes TLS client certificates; `Mutual`, RFC 8120, is a password protocol).

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_config::model::{CertificateField, CertificateIdentity, MtlsConfig};
use http::HeaderValue;
use http::request;

use crate::auth::{AuthFailure, AuthOutcome, Authenticator};
use crate::{ClientCert, ConsumerRegistry, Identity, RequestContext, Result};

/// The `WWW-Authenticate` challenge of `mtls`.
pub const CHALLENGE: &str = "ClientCert realm=\"gatehouse\"";

/// The order fields are tried in when `match_on` is empty.
const DEFAULT_ORDER: [CertificateField; 3] = [
    CertificateField::UriSan,
    CertificateField::DnsSan,
    CertificateField::CommonName,
];

/// The `mtls` authentication method.
#[derive(Debug)]
pub struct Mtls {
    match_on: Vec<CertificateField>,
    require_consumer: bool,
    consumers: Arc<ConsumerRegistry>,
}

impl Mtls {
    /// Builds the method from its settings and the configuration's consumers.
    pub fn new(config: &MtlsConfig, consumers: Arc<ConsumerRegistry>) -> Mtls {
        let match_on = if config.match_on.is_empty() {
            DEFAULT_ORDER.to_vec()
        } else {
            config.match_on.clone()
        };
        Mtls {
            match_on,
            require_consumer: config.require_consumer,
            consumers,
        }
    }

    /// The identities of `cert`, in `match_on` order.
    fn identities<'a>(
        &'a self,
        cert: &'a ClientCert,
    ) -> impl Iterator<Item = CertificateIdentity> + 'a {
        self.match_on.iter().flat_map(move |field| {
            let (values, make): (&[String], fn(String) -> CertificateIdentity) = match field {
                CertificateField::UriSan => (&cert.uri_sans, CertificateIdentity::UriSan),
                CertificateField::DnsSan => (&cert.dns_sans, CertificateIdentity::DnsSan),
                CertificateField::CommonName => {
                    (&cert.common_names, CertificateIdentity::CommonName)
                }
            };
            values.iter().map(move |v| make(v.clone()))
        })
    }

    /// What a certificate concludes, independent of the request.
    pub fn decide(&self, cert: Option<&ClientCert>) -> AuthOutcome {
        let Some(cert) = cert else {
            return AuthOutcome::NoCredentials;
        };
        if !cert.verified {
            return reject("client certificate not verified");
        }
        let mut first: Option<String> = None;
        for id in self.identities(cert) {
            if let Some(consumer) = self.consumers.by_certificate(&id) {
                let mut identity = Identity::for_consumer("mtls", consumer);
                identity.client_cert = Some(value(id));
                return AuthOutcome::Authenticated(identity);
            }
            first.get_or_insert_with(|| value(id));
        }
        match first {
            None => reject("client certificate carries no usable identity"),
            Some(_) if self.require_consumer => reject("client certificate maps to no consumer"),
            Some(name) => AuthOutcome::Authenticated(Identity {
                method: "mtls",
                subject: Some(name.clone()),
                client_cert: Some(name),
                ..Identity::default()
            }),
        }
    }
}

fn value(id: CertificateIdentity) -> String {
    match id {
        CertificateIdentity::CommonName(v)
        | CertificateIdentity::DnsSan(v)
        | CertificateIdentity::UriSan(v) => v,
    }
}

fn reject(reason: &'static str) -> AuthOutcome {
    AuthOutcome::Rejected(AuthFailure::unauthorized(CHALLENGE, reason))
}

#[async_trait]
impl Authenticator for Mtls {
    fn name(&self) -> &'static str {
        "mtls"
    }

    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static(CHALLENGE)
    }

    async fn authenticate(
        &self,
        cx: &RequestContext,
        _req: &mut request::Parts,
    ) -> Result<AuthOutcome> {
        Ok(self.decide(cx.client_cert.as_deref()))
    }
}

#[cfg(test)]
mod tests;
