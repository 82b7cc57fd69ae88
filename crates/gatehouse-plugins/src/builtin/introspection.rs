//! `oauth2_introspection`: opaque bearer tokens checked against an RFC 7662 introspection
//! endpoint, with results cached per token hash and concurrent introspections of one token
//! coalesced into a single request. Two different bearer tokens in one request are refused
//! (`invalid_request`) before the endpoint is asked. `docs/auth/introspection.md` documents the behaviour.

mod cache;
mod response;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use gatehouse_config::model::{IntrospectionConfig, IntrospectionFailure};
use http::header::{AUTHORIZATION, HeaderValue};
use http::{HeaderMap, StatusCode, Uri, request};
use sha2::{Digest, Sha256};

use crate::auth::{AuthFailure, AuthOutcome, Authenticator};
use crate::http_client::{HttpClient, HttpError};
use crate::identity::{ConsumerRegistry, Identity};
use crate::{RequestContext, Result};

use cache::{TokenCache, TokenKey};
use response::METHOD;

/// Most cached results kept (active and inactive tokens together).
const CACHE_CAPACITY: usize = 100_000;
/// Largest introspection response read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest bearer token accepted.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What the endpoint said about a token (cached).
#[derive(Debug, Clone)]
enum Verdict {
    Active(Arc<Identity>),
    Inactive,
}

/// The `oauth2_introspection` authentication method.
pub struct Introspection {
    endpoint: Uri,
    /// The endpoint for log lines: without any `user:password@`.
    endpoint_label: String,
    basic: HeaderValue,
    timeout: Duration,
    cache_ttl: Duration,
    negative_ttl: Duration,
    on_error: IntrospectionFailure,
    keep_credential: bool,
    client: HttpClient,
    consumers: Arc<ConsumerRegistry>,
    cache: TokenCache<Verdict>,
}

impl Introspection {
    /// Builds the method; fails when the endpoint is not an absolute `http(s)` URL.
    pub fn new(
        config: &IntrospectionConfig,
        consumers: Arc<ConsumerRegistry>,
    ) -> Result<Introspection> {
        let build_error = |e: HttpError| crate::Error::Build {
            plugin: METHOD,
            message: e.to_string(),
        };
        let endpoint = HttpClient::parse_url(&config.endpoint).map_err(build_error)?;
        let client = HttpClient::new(config.timeout).map_err(build_error)?;
        let endpoint_label = format!(
            "{}://{}{}",
            endpoint.scheme_str().unwrap_or("http"),
            endpoint.host().unwrap_or_default(),
            endpoint.path()
        );
        Ok(Introspection {
            endpoint,
            endpoint_label,
            basic: basic_authorization(&config.client_id, &config.client_secret)?,
            timeout: config.timeout,
            cache_ttl: config.cache_ttl,
            negative_ttl: config.negative_ttl,
            on_error: config.on_error,
            keep_credential: config.keep_credential,
            client,
            consumers,
            cache: TokenCache::new(CACHE_CAPACITY),
        })
    }

    /// Asks the endpoint about `token`: the verdict and how long it may be cached.
    async fn introspect(
        &self,
        token: &str,
    ) -> std::result::Result<(Verdict, Duration), &'static str> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, self.basic.clone());
        let form = [("token", token), ("token_type_hint", "access_token")];
        let resp = self
            .client
            .post_form(&self.endpoint, &form, headers, self.timeout, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| {
                tracing::warn!(endpoint = %self.endpoint_label, error = %e, "introspection request failed");
                match e {
                    HttpError::Timeout(_) => "introspection endpoint timed out",
                    _ => "introspection endpoint unreachable",
                }
            })?;
        if resp.status != StatusCode::OK {
            tracing::warn!(endpoint = %self.endpoint_label, status = %resp.status, "introspection endpoint refused the request");
            return Err("introspection endpoint answered an error");
        }
        let now = unix_now();
        match response::parse(&resp.body, now)? {
            Some(active) => {
                let ttl = response::positive_ttl(active.exp, now, self.cache_ttl);
                let identity = response::identity(active, &self.consumers);
                Ok((Verdict::Active(Arc::new(identity)), ttl))
            }
            None => Ok((Verdict::Inactive, self.negative_ttl)),
        }
    }

    fn on_error(&self, reason: &'static str) -> AuthOutcome {
        match self.on_error {
            IntrospectionFailure::Deny => AuthOutcome::Rejected(AuthFailure::unavailable(reason)),
            IntrospectionFailure::Anonymous => AuthOutcome::NoCredentials,
        }
    }
}

#[async_trait]
impl Authenticator for Introspection {
    fn name(&self) -> &'static str {
        METHOD
    }

    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static("Bearer realm=\"gatehouse\"")
    }

    fn invalid_challenge(&self) -> HeaderValue {
        HeaderValue::from_static("Bearer error=\"invalid_token\"")
    }

    async fn authenticate(
        &self,
        _cx: &RequestContext,
        req: &mut request::Parts,
    ) -> Result<AuthOutcome> {
        let token = match bearer_token(&req.headers) {
            Bearer::Absent => return Ok(AuthOutcome::NoCredentials),
            Bearer::Malformed => {
                return Ok(AuthOutcome::Rejected(AuthFailure::unauthorized(
                    "Bearer error=\"invalid_request\"",
                    "malformed bearer token",
                )));
            }
            Bearer::Ambiguous => {
                return Ok(AuthOutcome::Rejected(AuthFailure::ambiguous(
                    "Bearer error=\"invalid_request\"",
                )));
            }
            Bearer::Token(t) => t,
        };
        let key = token_key(&token);
        let verdict = self
            .cache
            .get_or_fetch(key, || self.introspect(&token))
            .await;
        Ok(match verdict {
            Ok(Verdict::Active(identity)) => {
                if !self.keep_credential {
                    req.headers.remove(AUTHORIZATION);
                }
                AuthOutcome::Authenticated((*identity).clone())
            }
            Ok(Verdict::Inactive) => AuthOutcome::Rejected(AuthFailure::unauthorized(
                "Bearer error=\"invalid_token\"",
                "token not active",
            )),
            Err(reason) => self.on_error(reason),
        })
    }
}

/// What the `Authorization` header holds for this method.
#[derive(Debug, PartialEq)]
enum Bearer {
    /// No `Authorization: Bearer` header (absent, or another scheme).
    Absent,
    /// `Bearer` with an empty, oversized, or non-token value.
    Malformed,
    /// The token (possibly repeated, identically, in several `Authorization` headers).
    Token(String),
    /// Different bearer tokens in several `Authorization` headers.
    Ambiguous,
}

/// What every `Authorization` header together holds: a malformed bearer value wins, then
/// different tokens are [`Bearer::Ambiguous`].
fn bearer_token(headers: &HeaderMap) -> Bearer {
    let mut found = Bearer::Absent;
    for value in headers.get_all(AUTHORIZATION) {
        match (one_bearer(value), &found) {
            (Bearer::Absent, _) => {}
            (Bearer::Malformed, _) => return Bearer::Malformed,
            (token, Bearer::Absent) => found = token,
            (Bearer::Token(t), Bearer::Token(first)) if t == *first => {}
            _ => found = Bearer::Ambiguous,
        }
    }
    found
}

fn one_bearer(value: &HeaderValue) -> Bearer {
    let bytes = value.as_bytes();
    if bytes.len() < 6 || !bytes[..6].eq_ignore_ascii_case(b"bearer") {
        return Bearer::Absent;
    }
    let rest = &bytes[6..];
    if !rest.is_empty() && rest[0] != b' ' {
        return Bearer::Absent;
    }
    let token = rest.trim_ascii();
    let valid = !token.is_empty()
        && token.len() <= MAX_TOKEN_BYTES
        && token.iter().all(|b| b.is_ascii_graphic());
    match std::str::from_utf8(token) {
        Ok(t) if valid => Bearer::Token(t.to_owned()),
        _ => Bearer::Malformed,
    }
}

fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1), marked sensitive.
fn basic_authorization(id: &str, secret: &str) -> Result<HeaderValue> {
    let pair = format!("{}:{}", encode_form_value(id), encode_form_value(secret));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value =
        HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| crate::Error::Build {
            plugin: METHOD,
            message: "client credentials do not form a header value".to_owned(),
        })?;
    value.set_sensitive(true);
    Ok(value)
}

fn encode_form_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
