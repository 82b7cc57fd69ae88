//! Authentication as one step of the access phase: the route's authentication methods
//! ([`Authenticator`]s) combined by its `auth:` policy into one [`AuthGate`] plugin.
//!
//! Every method answers [`AuthOutcome::Authenticated`], [`AuthOutcome::NoCredentials`] (nothing for
//! it in the request) or [`AuthOutcome::Rejected`] (credentials presented but not valid). With
//! `any_of` (default) the first method that authenticates wins; with `all_of` every method must,
//! and the identity is the first method's, with the roles of all. No credentials for any method →
//! the route's anonymous consumer if it has one, else 401. A rejection is never turned into
//! anonymous access. Nor is an ambiguous request: a method that finds several different
//! credentials of its kinds rejects it ([`AuthFailure::ambiguous`]). An accepted identity that
//! cannot be forwarded in headers as it is ([`Identity::unforwardable`]) is refused too (401),
//! rather than reaching the upstream without it.

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_config::model::{AuthMode, RouteAuth};
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{StatusCode, request};

use crate::builtin::priority;
use crate::identity::{ConsumerRegistry, Identity};
use crate::problem::problem_response;
use crate::{Flow, Phases, Plugin, RequestContext, Result};

/// Why credentials were refused.
#[derive(Debug, Clone)]
pub struct AuthFailure {
    /// 401 (invalid credentials) or 503 (the credential store could not be asked).
    pub status: StatusCode,
    /// The `WWW-Authenticate` challenge, e.g. `Bearer error="invalid_token"` (RFC 6750).
    pub challenge: Option<HeaderValue>,
    /// Logged reason (never the secret), e.g. `token expired`.
    pub reason: &'static str,
    /// The `detail` of the problem+json answer; `None` = the generic one for the status.
    pub detail: Option<&'static str>,
}

impl AuthFailure {
    /// A 401 with a challenge.
    pub fn unauthorized(challenge: &'static str, reason: &'static str) -> AuthFailure {
        AuthFailure {
            status: StatusCode::UNAUTHORIZED,
            challenge: Some(HeaderValue::from_static(challenge)),
            reason,
            detail: None,
        }
    }

    /// A 401 for a request that presents several different credentials of one method (two
    /// `Authorization` headers, a header and a query parameter, …): which would be the caller?
    pub fn ambiguous(challenge: &'static str) -> AuthFailure {
        AuthFailure {
            detail: Some("the request carries more than one credential; send exactly one"),
            ..AuthFailure::unauthorized(challenge, "several different credentials")
        }
    }

    /// A 503: the method could not decide (store or endpoint unreachable).
    pub fn unavailable(reason: &'static str) -> AuthFailure {
        AuthFailure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            challenge: None,
            reason,
            detail: None,
        }
    }
}

/// What one authentication method concluded.
#[derive(Debug)]
pub enum AuthOutcome {
    /// Valid credentials: this is the caller.
    Authenticated(Identity),
    /// No credentials for this method in the request.
    NoCredentials,
    /// Credentials presented and refused.
    Rejected(AuthFailure),
}

/// One authentication method (`key_auth`, `jwt`, `oauth2_introspection`, `mtls`).
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The method's name as written in config.
    fn name(&self) -> &'static str;

    /// The challenge sent when no method found credentials, e.g. `Bearer realm="gatehouse"`.
    fn challenge(&self) -> HeaderValue;

    /// The challenge sent when this method accepted credentials whose identity the gateway cannot
    /// forward (e.g. `Bearer error="invalid_token"`). Default: [`challenge`](Self::challenge).
    fn invalid_challenge(&self) -> HeaderValue {
        self.challenge()
    }

    /// Examines the request. On success the method removes its credential from `req` (unless
    /// configured to keep it).
    async fn authenticate(
        &self,
        cx: &RequestContext,
        req: &mut request::Parts,
    ) -> Result<AuthOutcome>;
}

/// The access-phase plugin that runs a route's authenticators under its `auth:` policy and stores
/// the resulting [`Identity`] in [`RequestContext::identity`].
pub struct AuthGate {
    methods: Vec<Arc<dyn Authenticator>>,
    mode: AuthMode,
    anonymous: Option<Identity>,
    /// Claim paths forwarded as headers (`identity.claim_headers`).
    forwarded_claims: Arc<Vec<String>>,
}

impl AuthGate {
    /// A gate over `methods` (in chain order) with the route's policy.
    pub fn new(
        methods: Vec<Arc<dyn Authenticator>>,
        policy: Option<&RouteAuth>,
        consumers: &ConsumerRegistry,
    ) -> AuthGate {
        let mode = policy.map_or(AuthMode::AnyOf, |p| p.mode);
        let anonymous = policy
            .and_then(|p| p.anonymous.as_deref())
            .and_then(|id| consumers.by_id(id))
            .map(|c| Identity {
                anonymous: true,
                ..Identity::for_consumer("anonymous", c)
            });
        AuthGate {
            methods,
            mode,
            anonymous,
            forwarded_claims: Arc::default(),
        }
    }

    /// Also checks that these claims (the paths of `identity.claim_headers`) can be forwarded:
    /// see [`Identity::unforwardable`].
    pub fn forwarding_claims(mut self, paths: Arc<Vec<String>>) -> AuthGate {
        self.forwarded_claims = paths;
        self
    }

    fn refuse(&self, cx: &mut RequestContext, failure: &AuthFailure) -> Flow {
        tracing::info!(request_id = %cx.request_id, reason = failure.reason, "authentication refused");
        let (status, generic) = if failure.status == StatusCode::UNAUTHORIZED {
            (StatusCode::UNAUTHORIZED, "valid credentials are required")
        } else {
            (
                failure.status,
                "the credentials could not be checked right now",
            )
        };
        let detail = failure.detail.unwrap_or(generic);
        let mut response = problem_response(status, detail, &cx.request_id);
        if let Some(challenge) = &failure.challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, challenge.clone());
        }
        Flow::Respond(response)
    }

    /// The refusal of a request whose credentials for two methods name two callers (or one of
    /// them is invalid), under `any_of`.
    fn two_callers(method: &Arc<dyn Authenticator>) -> AuthFailure {
        AuthFailure {
            challenge: Some(method.challenge()),
            reason: "credentials of two methods",
            ..AuthFailure::ambiguous("")
        }
    }

    fn missing(&self, cx: &mut RequestContext) -> Flow {
        let challenge = self.methods.first().map(|m| m.challenge());
        let failure = AuthFailure {
            status: StatusCode::UNAUTHORIZED,
            challenge,
            reason: "no credentials",
            detail: None,
        };
        self.refuse(cx, &failure)
    }
}

#[async_trait]
impl Plugin for AuthGate {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn priority(&self) -> i32 {
        priority::AUTHENTICATION
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        let mut found: Option<Identity> = None;
        let mut presented = 0usize;
        for method in &self.methods {
            match method.authenticate(cx, req).await? {
                AuthOutcome::Authenticated(identity) => {
                    if let Some(reason) = identity.unforwardable(&self.forwarded_claims) {
                        let failure = AuthFailure {
                            status: StatusCode::UNAUTHORIZED,
                            challenge: Some(method.invalid_challenge()),
                            reason,
                            detail: Some("the credential's identity cannot be forwarded"),
                        };
                        return Ok(self.refuse(cx, &failure));
                    }
                    presented += 1;
                    match &mut found {
                        None => found = Some(identity),
                        // `any_of`: a second method found a credential of another caller.
                        Some(first) if self.mode == AuthMode::AnyOf => {
                            if !first.same_caller(&identity) {
                                return Ok(self.refuse(cx, &Self::two_callers(method)));
                            }
                        }
                        Some(first) => first.add_roles(identity.roles),
                    }
                }
                // `any_of`: another method's credential next to the accepted one, and it is not
                // valid: the upstream would still receive it.
                AuthOutcome::Rejected(_) if found.is_some() && self.mode == AuthMode::AnyOf => {
                    return Ok(self.refuse(cx, &Self::two_callers(method)));
                }
                AuthOutcome::Rejected(failure) => return Ok(self.refuse(cx, &failure)),
                AuthOutcome::NoCredentials => {}
            }
        }
        let complete = match self.mode {
            AuthMode::AnyOf => found.is_some(),
            AuthMode::AllOf => presented == self.methods.len() && found.is_some(),
        };
        if complete {
            cx.identity = found;
            return Ok(Flow::Continue);
        }
        if presented == 0 && self.anonymous.is_some() {
            cx.identity = self.anonymous.clone();
            return Ok(Flow::Continue);
        }
        Ok(self.missing(cx))
    }
}

#[cfg(test)]
mod tests;
