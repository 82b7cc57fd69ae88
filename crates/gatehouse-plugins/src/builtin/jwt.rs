//! `jwt`: bearer tokens (JWS, compact form) verified against pinned per-issuer algorithms and
//! keys (inline PEM/JWK, an HMAC secret, a JWKS URL or OpenID discovery).
//!
//! The token comes from the configured sources in order (`Authorization: Bearer`, a cookie, a
//! query parameter). Oversized tokens are refused unparsed. The header is vetted first (`alg:
//! none`, unknown algorithms, any `crit`, and keys named by `jku`/`x5u`/`jwk`/`x5c` are refused),
//! then the issuer is chosen from the token's `iss` — only that issuer's algorithms and keys are
//! considered, and a key only verifies algorithms of its own type, so an HS256 token "signed" with
//! an RSA public key never meets an HMAC key. Then the signature, then `exp`/`nbf`/`iat`/`aud`
//! and the configured claims, and `sub`: a string that can be forwarded as a header value
//! ([`crate::header_safe`]), when present. Success: subject `sub`, claims = payload, roles from
//! `roles_claim`, merged with the consumer whose `jwt_subjects` lists `sub`; the credential is
//! removed (from every source it was in). Different tokens in one request (two `Authorization`
//! headers, a header and a cookie, …) are refused with `invalid_request`; the same token twice is
//! one token.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gatehouse_config::model::{JwtConfig, JwtKeys, TokenSource};
use http::header::HeaderValue;
use http::request;
use jsonwebtoken::{Algorithm, AlgorithmFamily};

use crate::auth::{AuthFailure, AuthOutcome, Authenticator};
use crate::{ConsumerRegistry, Identity, RequestContext, Result};

mod fetch;
pub mod jwks;
pub mod keys;
mod strip;
pub mod verify;

#[cfg(test)]
mod tests;

use keys::KeySet;
use verify::ClaimRules;

const CHALLENGE: &str = "Bearer realm=\"gatehouse\"";
const INVALID: &str = "Bearer error=\"invalid_token\"";
/// RFC 6750 §3.1 `invalid_request`: "uses more than one method for including an access token".
const AMBIGUOUS: &str = "Bearer error=\"invalid_request\"";

fn invalid(reason: &'static str) -> AuthOutcome {
    AuthOutcome::Rejected(AuthFailure::unauthorized(INVALID, reason))
}

/// Where an issuer's keys live.
enum IssuerKeys {
    Static(Arc<KeySet>),
    Remote(Arc<jwks::RemoteKeys>),
}

/// One trusted issuer, ready to verify.
struct Issuer {
    config: gatehouse_config::model::JwtIssuer,
    algorithms: Vec<Algorithm>,
    keys: IssuerKeys,
}

/// The `jwt` authentication method.
pub struct Jwt {
    issuers: Vec<Issuer>,
    sources: Vec<TokenSource>,
    leeway: i64,
    max_token_bytes: usize,
    keep_credential: bool,
    roles_claim: String,
    consumers: Arc<ConsumerRegistry>,
}

impl Jwt {
    /// Builds the method; starts JWKS fetches in the background (never waits for them). Fails on
    /// an empty issuer list, an unknown or `none` algorithm, HMAC algorithms without a secret (or
    /// a secret with other algorithms), and inline keys that do not parse.
    pub fn new(
        config: &JwtConfig,
        consumers: Arc<ConsumerRegistry>,
    ) -> std::result::Result<Jwt, String> {
        if config.issuers.is_empty() {
            return Err("at least one issuer is required".to_owned());
        }
        let mut issuers = Vec::with_capacity(config.issuers.len());
        for issuer in &config.issuers {
            let name = &issuer.issuer;
            if issuer.algorithms.is_empty() {
                return Err(format!("issuer {name}: `algorithms` is empty"));
            }
            let mut algorithms = Vec::new();
            for a in &issuer.algorithms {
                let alg = keys::parse_alg(a)
                    .ok_or_else(|| format!("issuer {name}: algorithm {a} is not supported"))?;
                let hmac = AlgorithmFamily::Hmac.algorithms().contains(&alg);
                let secret = matches!(issuer.keys, JwtKeys::Secret(_));
                if hmac != secret {
                    return Err(format!(
                        "issuer {name}: HS256/384/512 need `keys: {{secret}}`, and a secret allows only them ({a})"
                    ));
                }
                algorithms.push(alg);
            }
            let keys = match &issuer.keys {
                JwtKeys::Inline(items) => IssuerKeys::Static(Arc::new(
                    KeySet::from_inline(items).map_err(|e| format!("issuer {name}: {e}"))?,
                )),
                JwtKeys::Secret(secret) => {
                    if secret.is_empty() {
                        return Err(format!("issuer {name}: the secret is empty"));
                    }
                    IssuerKeys::Static(Arc::new(KeySet::from_secret(secret)))
                }
                JwtKeys::Jwks(source) => IssuerKeys::Remote(
                    jwks::RemoteKeys::shared(source.clone(), None)
                        .map_err(|e| format!("issuer {name}: {e}"))?,
                ),
                JwtKeys::Discovery(source) => IssuerKeys::Remote(
                    jwks::RemoteKeys::shared(source.clone(), Some(issuer.issuer.clone()))
                        .map_err(|e| format!("issuer {name}: {e}"))?,
                ),
            };
            issuers.push(Issuer {
                config: issuer.clone(),
                algorithms,
                keys,
            });
        }
        let sources = if config.sources.is_empty() {
            vec![TokenSource::Bearer]
        } else {
            config.sources.clone()
        };
        Ok(Jwt {
            issuers,
            sources,
            leeway: i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX),
            max_token_bytes: config.max_token_bytes,
            keep_credential: config.keep_credential,
            roles_claim: config
                .roles_claim
                .clone()
                .unwrap_or_else(|| "scope".to_owned()),
            consumers,
        })
    }

    /// Fetch attempts of the issuer at `index`'s remote key set (`None` for static keys).
    pub fn jwks_fetch_count(&self, index: usize) -> Option<u64> {
        match &self.issuers.get(index)?.keys {
            IssuerKeys::Remote(r) => Some(r.fetch_count()),
            IssuerKeys::Static(_) => None,
        }
    }

    /// Verifies `token` at `now` (Unix seconds) and returns the identity, or the logged reason.
    pub async fn verify(
        &self,
        token: &str,
        now: i64,
    ) -> std::result::Result<Identity, &'static str> {
        if token.len() > self.max_token_bytes {
            return Err("token too large");
        }
        let parsed = verify::parse(token)?;
        let iss = parsed.issuer().ok_or("iss missing")?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == iss)
            .ok_or("issuer not trusted")?;
        if !issuer.algorithms.contains(&parsed.alg) {
            return Err("algorithm not allowed for this issuer");
        }
        let keys = match &issuer.keys {
            IssuerKeys::Static(k) => k.clone(),
            IssuerKeys::Remote(r) => r
                .keys_for(parsed.kid.as_deref())
                .await
                .ok_or("issuer keys unavailable")?,
        };
        parsed.signature_valid(&keys)?;
        let c = &issuer.config;
        let rules = ClaimRules {
            audiences: &c.audiences,
            require_exp: c.require_exp,
            required_claims: &c.required_claims,
            claim_values: &c.claim_values,
            leeway: self.leeway,
        };
        verify::check_claims(&parsed.claims, &rules, now)?;
        match parsed.claims.get("sub") {
            None => {}
            Some(serde_json::Value::String(sub)) if crate::header_safe(sub) => {}
            Some(serde_json::Value::String(_)) => return Err("sub cannot be forwarded"),
            Some(_) => return Err("sub is not a string"),
        }
        Ok(self.identity(parsed.claims))
    }

    fn identity(&self, claims: serde_json::Value) -> Identity {
        let subject = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .map(str::to_owned);
        let roles = verify::roles_from(&claims, &self.roles_claim);
        let mut identity = match subject
            .as_deref()
            .and_then(|s| self.consumers.by_subject(s))
        {
            Some(consumer) => Identity::for_consumer("jwt", consumer),
            None => Identity {
                method: "jwt",
                ..Identity::default()
            },
        };
        identity.subject = subject;
        identity.add_roles(roles);
        identity.claims = Some(claims);
        identity
    }
}

#[async_trait]
impl Authenticator for Jwt {
    fn name(&self) -> &'static str {
        "jwt"
    }

    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static(CHALLENGE)
    }

    fn invalid_challenge(&self) -> HeaderValue {
        HeaderValue::from_static(INVALID)
    }

    async fn authenticate(
        &self,
        cx: &RequestContext,
        req: &mut request::Parts,
    ) -> Result<AuthOutcome> {
        let (token, found_in) = match self.find_token(req) {
            Found::Nothing => return Ok(AuthOutcome::NoCredentials),
            Found::Ambiguous => {
                tracing::debug!(request_id = %cx.request_id, "jwt refused: several different tokens");
                return Ok(AuthOutcome::Rejected(AuthFailure::ambiguous(AMBIGUOUS)));
            }
            Found::Token(token, found_in) => (token, found_in),
        };
        match self.verify(&token, unix_now()).await {
            Ok(identity) => {
                if !self.keep_credential {
                    for source in found_in {
                        strip::remove(req, source);
                    }
                }
                Ok(AuthOutcome::Authenticated(identity))
            }
            Err(reason) => {
                tracing::debug!(request_id = %cx.request_id, reason, "jwt refused");
                Ok(invalid(reason))
            }
        }
    }
}

/// The token a request presents to `jwt`.
enum Found<'a> {
    Nothing,
    /// One token (possibly repeated, identically) and every source it was found in.
    Token(String, Vec<&'a TokenSource>),
    /// Different tokens: refused, whichever of them is valid.
    Ambiguous,
}

impl Jwt {
    /// The token in every configured source: every `Authorization: Bearer`, every cookie of the
    /// name (in every `Cookie` header), every occurrence of the query parameter.
    fn find_token(&self, req: &request::Parts) -> Found<'_> {
        let mut found: Option<(String, Vec<&TokenSource>)> = None;
        for source in &self.sources {
            let mut add = |token: String| {
                match &mut found {
                    None => found = Some((token, vec![source])),
                    Some((first, _)) if *first != token => return false,
                    Some((_, sources)) => {
                        if !sources.contains(&source) {
                            sources.push(source);
                        }
                    }
                }
                true
            };
            let agreed = match source {
                TokenSource::Bearer => strip::bearers(req).all(&mut add),
                TokenSource::Cookie(name) => strip::cookies(req, name).all(&mut add),
                TokenSource::Query(name) => strip::queries(req, name).all(&mut add),
            };
            if !agreed {
                return Found::Ambiguous;
            }
        }
        match found {
            None => Found::Nothing,
            Some((token, sources)) => Found::Token(token, sources),
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
