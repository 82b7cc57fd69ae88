//! `key_auth`: API keys from a header (default `x-api-key`), `Authorization: ApiKey <key>`, or a
//! query parameter, resolved by their SHA-256 against the configured consumers, then (optionally)
//! against Redis behind a bounded in-process cache. Two different keys in one request are refused
//! (401), the same key twice is one key. See `docs/auth/key_auth.md`.
//!
//! The key itself is never logged: log lines carry at most the first 8 hex digits of its hash.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gatehouse_config::model::KeyAuthConfig;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use http::{Uri, request};
use sha2::{Digest, Sha256};

use crate::auth::{AuthFailure, AuthOutcome, Authenticator};
use crate::builtin::BuildContext;
use crate::identity::{ConsumerRegistry, Identity};
use crate::{RequestContext, Result};

pub mod cache;
pub mod redis;

#[cfg(test)]
mod tests;

/// The method name, also [`Identity::method`].
pub const METHOD: &str = "key_auth";
/// The challenge of 401 answers.
pub const CHALLENGE: &str = "ApiKey realm=\"gatehouse\"";
/// The `Authorization` scheme accepted when `authorization_scheme` is on (case-insensitive).
pub const SCHEME: &str = "ApiKey";

/// The `key_auth` authentication method.
pub struct KeyAuth {
    header: HeaderName,
    authorization_scheme: bool,
    query_param: Option<String>,
    keep_credential: bool,
    consumers: Arc<ConsumerRegistry>,
    redis: Option<redis::RedisKeyStore>,
}

/// What a request presents to `key_auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// No key in any place this method reads from.
    Nothing,
    /// One key (possibly repeated, identically), and the first place it was found.
    Key(String, KeySource),
    /// Two different keys: refused, whichever of them is valid (which consumer is the caller?).
    Ambiguous,
}

impl Presented {
    fn add(&mut self, key: &str, source: KeySource) {
        match self {
            Presented::Nothing => *self = Presented::Key(key.to_owned(), source),
            Presented::Key(first, _) if first != key => *self = Presented::Ambiguous,
            Presented::Key(..) | Presented::Ambiguous => {}
        }
    }
}

/// Where a key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The configured header.
    Header,
    /// `Authorization: ApiKey <key>`.
    Authorization,
    /// The configured query parameter.
    Query,
}

impl KeyAuth {
    /// Builds the method; fails on a Redis URL that cannot be parsed. Connects to Redis lazily.
    pub fn new(config: &KeyAuthConfig, cx: &BuildContext) -> Result<KeyAuth> {
        let redis = config
            .redis
            .as_ref()
            .map(redis::RedisKeyStore::new)
            .transpose()
            .map_err(|message| crate::Error::Build {
                plugin: METHOD,
                message,
            })?;
        Ok(KeyAuth {
            header: config.header.clone(),
            authorization_scheme: config.authorization_scheme,
            query_param: config.query_param.clone(),
            keep_credential: config.keep_credential,
            consumers: cx.consumers.clone(),
            redis,
        })
    }

    /// The Redis store, when configured (for tests and benches).
    pub fn redis(&self) -> Option<&redis::RedisKeyStore> {
        self.redis.as_ref()
    }

    /// The key `req` presents, from every place this method reads one: every value of the
    /// header, every `Authorization: ApiKey`, every occurrence of the query parameter. The same
    /// key in several places is one key (its first place: header, then `Authorization`, then
    /// query); different keys are [`Presented::Ambiguous`]. Values that are not valid UTF-8 count
    /// as presented but empty.
    pub fn extract(&self, req: &request::Parts) -> Presented {
        let mut presented = Presented::Nothing;
        for value in req.headers.get_all(&self.header) {
            presented.add(value.to_str().unwrap_or("").trim(), KeySource::Header);
        }
        if self.authorization_scheme {
            for value in req.headers.get_all(AUTHORIZATION) {
                if let Some(key) = authorization_key(value) {
                    presented.add(&key, KeySource::Authorization);
                }
            }
        }
        if let (Some(param), Some(query)) = (self.query_param.as_deref(), req.uri.query()) {
            for key in query_values(query, param) {
                presented.add(&key, KeySource::Query);
            }
        }
        presented
    }

    /// Resolves a key hash: configured consumers first, then Redis.
    pub async fn resolve(&self, hash: &str) -> std::result::Result<Identity, AuthFailure> {
        if let Some(consumer) = self.consumers.by_key_hash(hash) {
            return Ok(Identity::for_consumer(METHOD, consumer));
        }
        let Some(store) = &self.redis else {
            return Err(unknown());
        };
        match store.lookup(hash).await {
            redis::Lookup::Found(record) => {
                if record.expires_at.is_some_and(|at| at <= unix_now()) {
                    return Err(AuthFailure::unauthorized(CHALLENGE, "expired api key"));
                }
                Ok(self.identity_from(&record))
            }
            redis::Lookup::Unknown => Err(unknown()),
            redis::Lookup::Unavailable => {
                Err(AuthFailure::unavailable("api-key store unavailable"))
            }
        }
    }

    /// A Redis record as an identity: a configured consumer of the same id provides the defaults,
    /// the record's fields (when present) win.
    fn identity_from(&self, record: &cache::KeyRecord) -> Identity {
        let mut identity = match self.consumers.by_id(&record.consumer) {
            Some(consumer) => Identity::for_consumer(METHOD, consumer),
            None => Identity {
                method: METHOD,
                consumer_id: Some(record.consumer.clone()),
                subject: Some(record.consumer.clone()),
                ..Identity::default()
            },
        };
        if record.tenant.is_some() {
            identity.tenant.clone_from(&record.tenant);
        }
        if record.plan.is_some() {
            identity.plan.clone_from(&record.plan);
        }
        if let Some(roles) = &record.roles {
            identity.roles.clone_from(roles);
        }
        identity
    }

    /// Removes every place this method reads a key from: the header, an `ApiKey` authorization,
    /// the query parameter.
    fn strip_credential(&self, req: &mut request::Parts) {
        req.headers.remove(&self.header);
        if self.authorization_scheme
            && req
                .headers
                .get_all(AUTHORIZATION)
                .iter()
                .any(|v| authorization_key(v).is_some())
        {
            req.headers.remove(AUTHORIZATION);
        }
        if let Some(param) = &self.query_param
            && let Some(uri) = without_query_param(&req.uri, param)
        {
            req.uri = uri;
        }
    }
}

#[async_trait]
impl Authenticator for KeyAuth {
    fn name(&self) -> &'static str {
        METHOD
    }

    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static(CHALLENGE)
    }

    async fn authenticate(
        &self,
        cx: &RequestContext,
        req: &mut request::Parts,
    ) -> Result<AuthOutcome> {
        let (key, source) = match self.extract(req) {
            Presented::Nothing => return Ok(AuthOutcome::NoCredentials),
            Presented::Ambiguous => {
                tracing::info!(request_id = %cx.request_id, "api key refused: several different keys");
                return Ok(AuthOutcome::Rejected(AuthFailure::ambiguous(CHALLENGE)));
            }
            Presented::Key(key, source) => (key, source),
        };
        if key.is_empty() {
            return Ok(AuthOutcome::Rejected(AuthFailure::unauthorized(
                CHALLENGE,
                "empty api key",
            )));
        }
        let hash = hash_key(&key);
        drop(key);
        match self.resolve(&hash).await {
            Ok(identity) => {
                tracing::debug!(request_id = %cx.request_id, key_hash = &hash[..8], ?source, consumer = identity.consumer_id.as_deref(), "api key accepted");
                if !self.keep_credential {
                    self.strip_credential(req);
                }
                req.extensions.insert(PresentedKeyHash(hash));
                Ok(AuthOutcome::Authenticated(identity))
            }
            Err(failure) => {
                tracing::info!(request_id = %cx.request_id, key_hash = &hash[..8], reason = failure.reason, "api key refused");
                Ok(AuthOutcome::Rejected(failure))
            }
        }
    }
}

fn unknown() -> AuthFailure {
    AuthFailure::unauthorized(CHALLENGE, "unknown api key")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The lower-case hex SHA-256 of `key`: the form keys are stored in (config and Redis).
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The SHA-256 (lower-case hex, [`hash_key`]) of the API key an accepted request presented, in the
/// request's extensions: what `rate_limit`'s `key: [api_key]` counts by (never the raw key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKeyHash(pub String);

/// The key of an `Authorization: ApiKey <key>` value.
fn authorization_key(value: &HeaderValue) -> Option<String> {
    let value = value.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case(SCHEME)
        .then(|| rest.trim().to_owned())
}

/// The percent-decoded value of the first `name` parameter in `query`.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query_values(query, name).next()
}

/// The percent-decoded values of every `name` parameter in `query`, in order.
pub fn query_values<'a>(query: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    query.split('&').filter_map(move |pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// `uri` without any `name` query parameter; `None` when it has none (or cannot be rebuilt).
pub fn without_query_param(uri: &Uri, name: &str) -> Option<Uri> {
    let query = uri.query()?;
    let mut removed = false;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let k = pair.split_once('=').map_or(*pair, |(k, _)| k);
            let matches = decode(k) == name;
            removed |= matches;
            !matches
        })
        .collect();
    if !removed {
        return None;
    }
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}
