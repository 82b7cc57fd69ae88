//! The verified identity of a caller, and the consumer registry it is resolved against.

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_config::model::{CertificateIdentity, Consumer};
use serde_json::Value;

/// Who the caller is, once authenticated. Upstreams receive it in the identity headers.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The authentication method that produced it (`key_auth`, `jwt`, …, or `anonymous`).
    pub method: &'static str,
    /// Consumer id, when the caller maps to a configured (or Redis) consumer.
    pub consumer_id: Option<String>,
    /// Tenant.
    pub tenant: Option<String>,
    /// Plan.
    pub plan: Option<String>,
    /// Roles and scopes.
    pub roles: Vec<String>,
    /// Subject (user id): JWT `sub`, introspection `sub`, else the consumer id.
    pub subject: Option<String>,
    /// Verified claims (JWT payload, introspection response), when there are any.
    pub claims: Option<serde_json::Value>,
    /// Verified client-certificate identity (mTLS), e.g. a SPIFFE id.
    pub client_cert: Option<String>,
    /// Whether this is the route's anonymous consumer (no credentials presented).
    pub anonymous: bool,
}

impl Identity {
    /// Whether `other` names the same caller: the same consumer, or (without consumers) the same
    /// subject. Two credentials of one caller (a client certificate and an API key of one
    /// consumer) are not ambiguous.
    pub fn same_caller(&self, other: &Identity) -> bool {
        match (&self.consumer_id, &other.consumer_id) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.subject.is_some() && self.subject == other.subject,
            _ => false,
        }
    }

    /// An identity for `consumer`, produced by `method`.
    pub fn for_consumer(method: &'static str, consumer: &Consumer) -> Identity {
        Identity {
            method,
            consumer_id: Some(consumer.id.clone()),
            tenant: consumer.tenant.clone(),
            plan: consumer.plan.clone(),
            roles: consumer.roles.clone(),
            subject: Some(consumer.id.clone()),
            claims: None,
            client_cert: None,
            anonymous: false,
        }
    }

    /// Why this identity cannot be forwarded in the identity headers as it is, if it cannot:
    /// a subject, consumer id, tenant, plan or certificate identity that is not
    /// [`header_safe`]; a role that is not, or contains `,` or whitespace (roles travel
    /// comma-separated); a claim at one of `forwarded_claims` (the `identity.claim_headers` paths)
    /// that is an object or array, or a string that is not [`header_safe`]. Absent (or `null`)
    /// claims are fine: the header is not sent.
    pub fn unforwardable(&self, forwarded_claims: &[String]) -> Option<&'static str> {
        let values = [
            &self.subject,
            &self.consumer_id,
            &self.tenant,
            &self.plan,
            &self.client_cert,
        ];
        if values.into_iter().flatten().any(|v| !header_safe(v)) {
            return Some("identity value cannot be forwarded");
        }
        if self
            .roles
            .iter()
            .any(|r| !header_safe(r) || r.contains(',') || r.contains(char::is_whitespace))
        {
            return Some("role cannot be forwarded");
        }
        let claims = self.claims.as_ref()?;
        for path in forwarded_claims {
            let value = path.split('.').try_fold(claims, |v, key| v.get(key));
            match value {
                None | Some(Value::Null | Value::Bool(_) | Value::Number(_)) => {}
                Some(Value::String(s)) if header_safe(s) => {}
                Some(Value::String(_)) => return Some("claim cannot be forwarded"),
                Some(Value::Array(_) | Value::Object(_)) => {
                    return Some("forwarded claim is not a single value");
                }
            }
        }
        None
    }

    /// Adds `roles` not present yet.
    pub fn add_roles<I: IntoIterator<Item = String>>(&mut self, roles: I) {
        for role in roles {
            if !self.roles.contains(&role) {
                self.roles.push(role);
            }
        }
    }
}

/// Whether `value` can travel in a header and arrive as written: not empty, no control characters
/// (CR, LF, NUL, tab, DEL, C1, …), no leading or trailing whitespace (a parser would trim it and
/// see another identity). Other non-ASCII characters are forwarded as their UTF-8 bytes.
pub fn header_safe(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(char::is_control) && value.trim() == value
}

/// Configured consumers, indexed for the lookups authentication needs. Built once per configuration.
#[derive(Debug, Default)]
pub struct ConsumerRegistry {
    by_id: HashMap<String, Arc<Consumer>>,
    by_key_hash: HashMap<String, Arc<Consumer>>,
    by_certificate: HashMap<CertificateIdentity, Arc<Consumer>>,
    by_subject: HashMap<String, Arc<Consumer>>,
}

impl ConsumerRegistry {
    /// Indexes `consumers` (validated: ids, key hashes and certificate identities are unique).
    pub fn new(consumers: &[Consumer]) -> ConsumerRegistry {
        let mut registry = ConsumerRegistry::default();
        for consumer in consumers {
            let c = Arc::new(consumer.clone());
            registry.by_id.insert(c.id.clone(), c.clone());
            for hash in &c.api_key_hashes {
                registry
                    .by_key_hash
                    .insert(hash.to_ascii_lowercase(), c.clone());
            }
            for cert in &c.certificates {
                registry.by_certificate.insert(cert.clone(), c.clone());
            }
            for sub in &c.jwt_subjects {
                registry.by_subject.insert(sub.clone(), c.clone());
            }
        }
        registry
    }

    /// The consumer with this id.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Consumer>> {
        self.by_id.get(id)
    }

    /// The consumer owning the API key whose SHA-256 (lower-case hex) is `hash`.
    pub fn by_key_hash(&self, hash: &str) -> Option<&Arc<Consumer>> {
        self.by_key_hash.get(hash)
    }

    /// The consumer a client-certificate identity maps to.
    pub fn by_certificate(&self, id: &CertificateIdentity) -> Option<&Arc<Consumer>> {
        self.by_certificate.get(id)
    }

    /// The consumer a JWT/introspection subject maps to.
    pub fn by_subject(&self, sub: &str) -> Option<&Arc<Consumer>> {
        self.by_subject.get(sub)
    }
}
