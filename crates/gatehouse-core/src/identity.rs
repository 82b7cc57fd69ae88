//! Headers that claim an authority only a gateway has. Client-sent copies are removed from every
//! request (whatever the route, authenticated or not, in any case and with `_` for `-`):
//!
//! - the identity headers the gateway owns (`identity:`), which it writes after authentication;
//! - other gateways' identity headers that upstreams written for them trust (`X-Consumer-Username`,
//!   `X-Forwarded-User`, `X-Auth-Request-*`, …: `identity.strip_headers`, `identity.strip_prefixes`);
//! - method overrides (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`), after
//!   being applied to a `POST` when `server.method_override: honor`.

use gatehouse_config::model::{IdentitySettings, MethodOverride};
use gatehouse_plugins::Identity;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, request};

/// The method-override headers (never forwarded; honored on a `POST` with `method_override: honor`).
const OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The methods a `POST` may be overridden to (`CONNECT` and `TRACE` never).
const OVERRIDABLE: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The stripped header names of a configuration, ready for per-request use.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    settings: IdentitySettings,
    /// Every stripped name (owned, foreign, method overrides), lower-case with `-`, indexed by
    /// length: a request header is compared only with the names of its own length.
    by_len: Vec<Vec<Box<[u8]>>>,
    /// Stripped name prefixes, lower-case with `-`.
    prefixes: Vec<Box<[u8]>>,
    method_override: MethodOverride,
}

impl IdentityHeaders {
    /// From the `identity:` settings and `server.method_override`.
    pub fn new(settings: &IdentitySettings, method_override: MethodOverride) -> IdentityHeaders {
        let mut by_len: Vec<Vec<Box<[u8]>>> = Vec::new();
        let owned = settings.owned_headers();
        let names = owned
            .iter()
            .chain(&settings.strip_headers)
            .map(HeaderName::as_str)
            .chain(OVERRIDE_HEADERS);
        for name in names {
            let dashed: Box<[u8]> = name.replace('_', "-").into_bytes().into();
            if by_len.len() <= dashed.len() {
                by_len.resize(dashed.len() + 1, Vec::new());
            }
            if !by_len[dashed.len()].contains(&dashed) {
                by_len[dashed.len()].push(dashed);
            }
        }
        let prefixes = settings
            .strip_prefixes
            .iter()
            .map(|p| p.to_ascii_lowercase().replace('_', "-").into_bytes().into())
            .collect();
        IdentityHeaders {
            settings: settings.clone(),
            by_len,
            prefixes,
            method_override,
        }
    }

    /// Whether a request header (lower-case, as `HeaderName`s are) is one the gateway strips.
    fn stripped(&self, name: &[u8]) -> bool {
        self.by_len
            .get(name.len())
            .is_some_and(|names| names.iter().any(|n| same_dashed(n, name)))
            || self
                .prefixes
                .iter()
                .any(|p| name.len() >= p.len() && same_dashed(p, &name[..p.len()]))
    }

    /// Removes every client-sent stripped header, also when spelled with `_` instead of `-`
    /// (`x_user_id`), which some upstream frameworks treat as the same header. Allocates only when
    /// there is something to remove.
    pub fn strip(&self, headers: &mut HeaderMap) {
        if !headers.keys().any(|k| self.stripped(k.as_str().as_bytes())) {
            return;
        }
        let doomed: Vec<HeaderName> = headers
            .keys()
            .filter(|k| self.stripped(k.as_str().as_bytes()))
            .cloned()
            .collect();
        for name in doomed {
            headers.remove(name);
        }
    }

    /// With `method_override: honor`, a `POST` carrying override headers (`-` spellings) takes the
    /// method they name. Refused (the reason): a value that is not one of [`OVERRIDABLE`] (any
    /// case), or headers naming different methods. Call before [`strip`](Self::strip), which removes
    /// the headers in every mode.
    pub fn override_method(&self, parts: &mut request::Parts) -> Result<(), &'static str> {
        if self.method_override == MethodOverride::Strip || parts.method != Method::POST {
            return Ok(());
        }
        let mut chosen: Option<&Method> = None;
        for name in OVERRIDE_HEADERS {
            for value in parts.headers.get_all(name) {
                let wanted = value.as_bytes().trim_ascii();
                let method = OVERRIDABLE
                    .iter()
                    .find(|m| m.as_str().as_bytes().eq_ignore_ascii_case(wanted))
                    .ok_or("invalid method override")?;
                if chosen.is_some_and(|c| c != method) {
                    return Err("conflicting method overrides");
                }
                chosen = Some(method);
            }
        }
        if let Some(method) = chosen {
            parts.method = method.clone();
        }
        Ok(())
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

/// Whether `name` is `canonical` (lower-case, `-`) with any `-` possibly written `_`.
fn same_dashed(canonical: &[u8], name: &[u8]) -> bool {
    canonical.len() == name.len()
        && canonical
            .iter()
            .zip(name)
            .all(|(c, n)| c == n || (*c == b'-' && *n == b'_'))
}

/// The value at a dot-separated claim path (`realm_access.roles`).
pub fn claim_at<'a>(claims: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

#[cfg(test)]
mod tests;
