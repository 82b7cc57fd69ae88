//! `opa`: Rego policies, evaluated in-process (regorus) or by an external OPA server.

use async_trait::async_trait;
use gatehouse_config::model::OpaConfig;
use http::{HeaderName, HeaderValue, StatusCode, request};

use crate::problem::problem_response;
use crate::{Flow, LocalResponse, Phases, Plugin, RequestContext, Result};

pub mod decision;
pub mod external;
pub mod input;
pub mod local;

pub use decision::Decision;
pub use external::ExternalPolicy;
pub use local::LocalPolicy;

/// The raw outcome of asking a policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// The query's value.
    Value(serde_json::Value),
    /// The query is undefined for this input (no rule matched and no default).
    Undefined,
    /// The policy failed to evaluate (a builtin error, the time limit, a conflict).
    Failed(String),
    /// The external OPA server could not be asked (timeout, transport error, non-200).
    Unavailable(String),
}

/// Where decisions come from.
#[derive(Debug, Clone)]
enum Evaluator {
    Local(LocalPolicy),
    External(Box<ExternalPolicy>),
}

/// Headers an allowing decision adds to the upstream request (kept until `on_upstream_request`,
/// after hop-by-hop removal, so that a client's `Connection:` cannot remove them).
#[derive(Debug, Clone)]
struct UpstreamHeaders(Vec<(HeaderName, HeaderValue)>);

/// The `opa` plugin (`on_access`, after `rbac`; `on_upstream_request` to add decision headers).
///
/// Builds the input document ([`input::build`]), evaluates `query`, and reads the value as a
/// [`Decision`]. Everything that is not an explicit allow denies (fail closed):
///
/// | outcome | answer |
/// | --- | --- |
/// | allow | continue; decision `headers` replace those of the upstream request |
/// | deny | decision `status` (default 403) problem+json with decision `headers`; `reason` logged |
/// | undefined, malformed decision, evaluation error | 403, logged as an error |
/// | external OPA timeout, unreachable, non-200, unreadable | 503, logged as an error |
///
/// The response body never carries the policy's `reason`: it is a generic detail.
#[derive(Debug)]
pub struct Opa {
    evaluator: Evaluator,
    headers: Vec<HeaderName>,
}

impl Opa {
    /// Builds the plugin: compiles the policy files once (or prepares the external client). Fails
    /// on an unreadable or invalid policy, a query naming no rule, or an invalid external URL.
    pub fn new(config: &OpaConfig) -> Result<Opa> {
        let evaluator = match &config.external {
            Some(external) => {
                if !config.policies.is_empty() {
                    tracing::warn!("opa: `external` is set; the local `policies` are not loaded");
                }
                Evaluator::External(Box::new(ExternalPolicy::new(external)?))
            }
            None => {
                let files: Vec<&std::path::Path> =
                    config.policies.iter().map(|p| p.as_path()).collect();
                Evaluator::Local(LocalPolicy::compile(&files, &config.query)?)
            }
        };
        Ok(Opa {
            evaluator,
            headers: config.headers.clone(),
        })
    }

    /// Evaluates the policy for this request.
    pub async fn evaluate(&self, cx: &RequestContext, req: &request::Parts) -> Evaluation {
        let Some(input) = input::build(cx, req, &self.headers) else {
            return Evaluation::Failed("request path cannot be normalized".to_owned());
        };
        match &self.evaluator {
            Evaluator::Local(policy) => policy.evaluate(input),
            Evaluator::External(policy) => policy.evaluate(input).await,
        }
    }

    fn refuse(cx: &RequestContext, status: StatusCode, detail: &str) -> LocalResponse {
        problem_response(status, detail, &cx.request_id)
    }
}

#[async_trait]
impl Plugin for Opa {
    fn name(&self) -> &'static str {
        "opa"
    }

    fn priority(&self) -> i32 {
        super::priority::OPA
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS.with(Phases::UPSTREAM_REQUEST)
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        const DENIED: &str = "access to this resource is denied by policy";
        let route = cx.route.clone();
        let route = route.as_deref().unwrap_or("");
        let value = match self.evaluate(cx, req).await {
            Evaluation::Value(v) => v,
            Evaluation::Undefined => {
                tracing::error!(request_id = %cx.request_id, route, "opa: decision undefined; denied");
                return Ok(Flow::Respond(Self::refuse(
                    cx,
                    StatusCode::FORBIDDEN,
                    DENIED,
                )));
            }
            Evaluation::Failed(e) => {
                tracing::error!(request_id = %cx.request_id, route, error = %e, "opa: evaluation failed; denied");
                return Ok(Flow::Respond(Self::refuse(
                    cx,
                    StatusCode::FORBIDDEN,
                    DENIED,
                )));
            }
            Evaluation::Unavailable(e) => {
                tracing::error!(request_id = %cx.request_id, route, error = %e, "opa: policy server unavailable; denied");
                return Ok(Flow::Respond(Self::refuse(
                    cx,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the access policy could not be evaluated right now",
                )));
            }
        };
        let decision = match Decision::parse(value) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(request_id = %cx.request_id, route, error = %e, "opa: malformed decision; denied");
                return Ok(Flow::Respond(Self::refuse(
                    cx,
                    StatusCode::FORBIDDEN,
                    DENIED,
                )));
            }
        };
        if decision.allow {
            if !decision.headers.is_empty() {
                cx.extensions.insert(UpstreamHeaders(decision.headers));
            }
            return Ok(Flow::Continue);
        }
        tracing::info!(
            request_id = %cx.request_id,
            route,
            status = decision.status.as_u16(),
            reason = decision.reason.as_deref().unwrap_or(""),
            "opa: denied by policy"
        );
        let mut response = Self::refuse(cx, decision.status, DENIED);
        for (name, value) in decision.headers {
            response.headers_mut().insert(name, value);
        }
        Ok(Flow::Respond(response))
    }

    async fn on_upstream_request(
        &self,
        cx: &mut RequestContext,
        req: &mut request::Parts,
    ) -> Result<Flow> {
        if let Some(UpstreamHeaders(headers)) = cx.extensions.remove::<UpstreamHeaders>() {
            for (name, value) in headers {
                req.headers.insert(name, value);
            }
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests;
