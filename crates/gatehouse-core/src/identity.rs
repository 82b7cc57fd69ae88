//! Identity headers: the gateway owns them. Client-sent copies are removed from every request
//! (whatever the route, authenticated or not, including `_` spellings), and after authentication
//! the verified identity is written into them for the upstream.

use gatehouse_config::model::IdentitySettings;
use gatehouse_plugins::Identity;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The identity header names of a configuration, ready for per-request use.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    settings: IdentitySettings,
    /// Every owned name, lower-case with `-`, for the underscore-variant check.
    owned: Vec<HeaderName>,
}

impl IdentityHeaders {
    /// From the `identity:` settings.
    pub fn new(settings: &IdentitySettings) -> IdentityHeaders {
        IdentityHeaders {
            settings: settings.clone(),
            owned: settings.owned_headers(),
        }
    }

    /// Removes every client-sent identity header, also when spelled with `_` instead of `-`
    /// (`x_user_id`), which some upstream frameworks treat as the same header.
    pub fn strip(&self, headers: &mut HeaderMap) {
        for name in &self.owned {
            headers.remove(name);
        }
        if headers.keys().any(|k| k.as_str().contains('_')) {
            let spoofed: Vec<HeaderName> = headers
                .keys()
                .filter(|k| k.as_str().contains('_'))
                .filter(|k| {
                    let dashed = k.as_str().replace('_', "-");
                    self.owned.iter().any(|o| o.as_str() == dashed)
                })
                .cloned()
                .collect();
            for name in spoofed {
                headers.remove(name);
            }
        }
    }

    /// Writes the verified identity into the upstream request's headers.
    pub fn apply(&self, identity: &Identity, headers: &mut HeaderMap) {
        let s = &self.settings;
        let mut set = |name: &HeaderName, value: Option<&str>| {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name.clone(), v);
            }
        };
        set(&s.user_id_header, identity.subject.as_deref());
        set(&s.consumer_id_header, identity.consumer_id.as_deref());
        set(&s.tenant_id_header, identity.tenant.as_deref());
        set(&s.plan_header, identity.plan.as_deref());
        set(&s.client_cert_header, identity.client_cert.as_deref());
        if !identity.roles.is_empty() {
            set(&s.roles_header, Some(&identity.roles.join(",")));
        }
        if let Some(claims) = &identity.claims {
            for (path, header) in &s.claim_headers {
                let value = claim_at(claims, path).and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                });
                set(header, value.as_deref());
            }
        }
    }
}

/// The value at a dot-separated claim path (`realm_access.roles`).
pub fn claim_at<'a>(claims: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

#[cfg(test)]
mod tests;
