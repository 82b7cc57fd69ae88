//! RFC 7662 §2.2: an introspection response mapped to what the gateway needs.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::identity::{ConsumerRegistry, Identity};

/// The method name identities carry.
pub(super) const METHOD: &str = "oauth2_introspection";

/// An active token, as the endpoint described it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ActiveToken {
    /// `sub`.
    pub sub: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `scope`, split on whitespace (an array of strings is accepted too).
    pub scopes: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub exp: Option<u64>,
    /// The whole response object.
    pub claims: Map<String, Value>,
}

/// Parses a 200 response body. `Ok(None)`: the token is not active (`active: false`, `exp` in
/// the past, or `nbf` in the future). `Err`: not a usable response (not a JSON object, no boolean
/// `active`, a mistyped `exp`/`nbf`/`sub`/`client_id`).
pub(super) fn parse(body: &[u8], now_unix: u64) -> Result<Option<ActiveToken>, &'static str> {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(body) else {
        return Err("introspection response is not a JSON object");
    };
    match claims.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(None),
        _ => return Err("introspection response has no boolean `active`"),
    }
    let exp = time_claim(&claims, "exp")?;
    if exp.is_some_and(|exp| exp <= now_unix) {
        return Ok(None);
    }
    if time_claim(&claims, "nbf")?.is_some_and(|nbf| nbf > now_unix) {
        return Ok(None);
    }
    let scopes = match claims.get("scope") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return Err("introspection response has a mistyped `scope`"),
    };
    Ok(Some(ActiveToken {
        sub: string_claim(&claims, "sub")?,
        client_id: string_claim(&claims, "client_id")?,
        scopes,
        exp,
        claims,
    }))
}

fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, &'static str> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f >= 0.0 => Ok(Some(f as u64)),
            _ => Ok(Some(0)),
        },
        Some(_) => Err("introspection response has a non-numeric time claim"),
    }
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, &'static str> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("introspection response has a non-string `sub` or `client_id`"),
    }
}

/// How long an active token may be cached: `cache_ttl`, shortened to the token's remaining
/// lifetime when it has an `exp`.
pub(super) fn positive_ttl(exp: Option<u64>, now_unix: u64, cache_ttl: Duration) -> Duration {
    match exp {
        Some(exp) => cache_ttl.min(Duration::from_secs(exp.saturating_sub(now_unix))),
        None => cache_ttl,
    }
}

/// The identity of an active token. The consumer is the one whose `jwt_subjects` lists the
/// token's `sub`, else the one listing its `client_id` (client-credentials tokens often have no
/// `sub`). Subject: `sub`, else the consumer id, else `client_id`. Roles: the consumer's roles
/// plus the token's scopes. Claims: the whole response.
pub(super) fn identity(token: ActiveToken, consumers: &ConsumerRegistry) -> Identity {
    let consumer = token
        .sub
        .as_deref()
        .and_then(|s| consumers.by_subject(s))
        .or_else(|| {
            token
                .client_id
                .as_deref()
                .and_then(|c| consumers.by_subject(c))
        });
    let mut identity = match consumer {
        Some(c) => Identity::for_consumer(METHOD, c),
        None => Identity {
            method: METHOD,
            ..Identity::default()
        },
    };
    if let Some(sub) = token.sub {
        identity.subject = Some(sub);
    } else if identity.subject.is_none() {
        identity.subject = token.client_id;
    }
    identity.add_roles(token.scopes);
    identity.claims = Some(Value::Object(token.claims));
    identity
}
