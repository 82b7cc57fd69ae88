//! `rbac`: required roles or scopes per route and per method, checked on the caller's identity.

use async_trait::async_trait;
use gatehouse_config::model::{RbacConfig, RoleRule};
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{Method, StatusCode, request};

use crate::problem::problem_response;
use crate::{Flow, Identity, Phases, Plugin, RequestContext, Result};

/// The `rbac` plugin (`on_access`, after authentication).
///
/// The rule for a request is `methods[<method>]` when the method has one, else the default rule
/// (`any_of` / `all_of` at the top level). A rule passes when the caller holds at least one role of
/// a non-empty `any_of` and every role of `all_of`; a rule with both lists empty lets every
/// authenticated caller through. Roles are [`Identity::roles`]: the consumer's (and its groups'),
/// the JWT `roles_claim`, or the introspection `scope`, as filled in by the authentication methods.
///
/// - No identity (no authentication ran on the route): `401` problem+json with
///   `WWW-Authenticate: Bearer realm="gatehouse"`. Authorization without authentication is a
///   configuration mistake on that route; the refusal keeps it closed.
/// - Rule not met: `403` problem+json; the failed rule (never a credential) is logged.
#[derive(Debug)]
pub struct Rbac {
    default: RoleRule,
    methods: Vec<(Method, RoleRule)>,
}

/// Which part of a rule refused the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// None of the `any_of` roles is held.
    AnyOf,
    /// Some `all_of` role is missing.
    AllOf,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::AnyOf => "any_of",
            Refusal::AllOf => "all_of",
        }
    }
}

/// Checks `rule` against `roles`: `Ok` when it passes, else which list failed.
pub fn check(rule: &RoleRule, roles: &[String]) -> std::result::Result<(), Refusal> {
    let holds = |r: &String| roles.iter().any(|have| have == r);
    if !rule.any_of.is_empty() && !rule.any_of.iter().any(holds) {
        return Err(Refusal::AnyOf);
    }
    if !rule.all_of.iter().all(holds) {
        return Err(Refusal::AllOf);
    }
    Ok(())
}

impl Rbac {
    /// Builds the plugin from its settings.
    pub fn new(config: &RbacConfig) -> Rbac {
        Rbac {
            default: config.default.clone(),
            methods: config.methods.clone(),
        }
    }

    /// The rule for `method`, and whether it is a per-method one.
    pub fn rule_for(&self, method: &Method) -> (&RoleRule, bool) {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map_or((&self.default, false), |(_, rule)| (rule, true))
    }

    /// Whether `identity` may make a `method` request; on refusal, which rule failed.
    pub fn decide(
        &self,
        method: &Method,
        identity: &Identity,
    ) -> std::result::Result<(), (bool, Refusal)> {
        let (rule, per_method) = self.rule_for(method);
        check(rule, &identity.roles).map_err(|r| (per_method, r))
    }
}

#[async_trait]
impl Plugin for Rbac {
    fn name(&self) -> &'static str {
        "rbac"
    }

    fn priority(&self) -> i32 {
        super::priority::RBAC
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        let Some(identity) = &cx.identity else {
            tracing::warn!(
                request_id = %cx.request_id,
                route = cx.route.as_deref().unwrap_or(""),
                "rbac: no authenticated identity (route has rbac but no authentication)"
            );
            let mut response = problem_response(
                StatusCode::UNAUTHORIZED,
                "valid credentials are required",
                &cx.request_id,
            );
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
            return Ok(Flow::Respond(response));
        };
        match self.decide(&req.method, identity) {
            Ok(()) => Ok(Flow::Continue),
            Err((per_method, refusal)) => {
                tracing::info!(
                    request_id = %cx.request_id,
                    consumer = identity.consumer_id.as_deref().unwrap_or(""),
                    subject = identity.subject.as_deref().unwrap_or(""),
                    method = %req.method,
                    rule = if per_method { "methods" } else { "default" },
                    failed = refusal.as_str(),
                    "rbac: refused"
                );
                Ok(Flow::Respond(problem_response(
                    StatusCode::FORBIDDEN,
                    "the caller lacks a role required for this request",
                    &cx.request_id,
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests;
