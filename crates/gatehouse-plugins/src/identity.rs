//! The verified identity of a caller, and the consumer registry it is resolved against.

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_config::model::{CertificateIdentity, Consumer};

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

    /// Adds `roles` not present yet.
    pub fn add_roles<I: IntoIterator<Item = String>>(&mut self, roles: I) {
        for role in roles {
            if !self.roles.contains(&role) {
                self.roles.push(role);
            }
        }
    }
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
