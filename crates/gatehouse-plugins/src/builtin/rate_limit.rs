//! `rate_limit`: one or more limits per key, decided in process or in Redis.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gatehouse_config::model::{
    Backend, KeyPart, Limit, LimitSource, Plan, RateLimitConfig, RateLimitHeaders,
};
use gatehouse_store::{Decision, RateLimiter};
use http::header::RETRY_AFTER;
use http::{HeaderName, HeaderValue, Response, StatusCode, request};

use crate::problem::problem_response;
use crate::{Flow, Identity, Phases, Plugin, RequestContext, Result};

pub mod headers;
pub mod key;
pub mod limiters;
pub mod metrics;
pub mod quota;

pub use limiters::Limiters;

/// The `rate_limit` plugin (`on_access`, after authentication so the consumer and plan are known).
///
/// - Limits: the configured list, or (`limits: plan`) the caller's plan's limits: an identity
///   whose plan is configured uses that plan's limits (none = unlimited); a caller without a plan
///   (anonymous, unauthenticated, unknown plan) uses `fallback` (empty = unlimited).
/// - Key: the configured parts (see [`key::request_key`]); each limit has its own counter
///   ([`key::counter_key`]). The route name is part of the key only when `route` is a key part.
/// - Every limit is checked in order, one store call each, stopping at the first refusal: limits
///   before the refusing one have already counted the request.
/// - Headers (draft / structured / `X-RateLimit-*`, as configured) on every limited response,
///   allowed or refused, describe the most restrictive decision (fewest remaining).
/// - Refused: `429` problem+json with `Retry-After` (whole seconds, rounded up, at least 1).
/// - The store cannot decide (Redis down with `on_failure: fail_closed`): `503` problem+json with
///   `Retry-After: <store.redis.retry_after>`.
/// - Then, when the limits allow it, the caller's plan quota ([`quota`], [`RateLimit::check_quota`]):
///   `429` with `Retry-After` = seconds until the period ends once it is used up.
pub struct RateLimit {
    limits: LimitSource,
    plans: Arc<HashMap<String, Plan>>,
    key: Vec<KeyPart>,
    headers: RateLimitHeaders,
    limiter: Arc<dyn RateLimiter>,
    unavailable_retry_after: Duration,
    quotas: quota::QuotaCounters,
    metrics: Option<Arc<metrics::RateLimitMetrics>>,
    /// [`key::limit_id`] of each fixed limit, computed once.
    fixed_ids: Vec<String>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("limits", &self.limits)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Marks a request already counted against its plan quota (in `cx.extensions`), so that a second
/// `rate_limit` plugin on the same request does not count it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaCounted;

/// What the limits said about a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No limit applies to the caller.
    Unlimited,
    /// Allowed; the most restrictive decision and its limit.
    Allowed(Limit, Decision),
    /// Refused by this limit.
    Refused(Limit, Decision),
    /// The store could not decide.
    Unavailable(String),
}

impl RateLimit {
    /// Builds the plugin from its settings, the configuration's plans and the process's limiters.
    pub fn new(
        config: &RateLimitConfig,
        plans: Arc<HashMap<String, Plan>>,
        limiters: &Limiters,
    ) -> std::result::Result<RateLimit, String> {
        let limiter = match config.backend {
            Backend::Memory => limiters
                .memory(config.max_keys)
                .ok_or("no in-process limiter is available")?,
            Backend::Redis => match config.approximate {
                Some(a) => limiters.approximate(a.sync_interval, config.max_keys),
                None => limiters.redis(),
            }
            .ok_or("backend redis: no Redis limiter (is `store.redis` set?)")?,
        };
        Ok(RateLimit::with_limiter(config, plans, limiter, limiters))
    }

    /// Builds the plugin deciding with `limiter`.
    pub fn with_limiter(
        config: &RateLimitConfig,
        plans: Arc<HashMap<String, Plan>>,
        limiter: Arc<dyn RateLimiter>,
        limiters: &Limiters,
    ) -> RateLimit {
        RateLimit {
            limits: config.limits.clone(),
            plans,
            key: config.key.clone(),
            headers: config.headers,
            limiter,
            unavailable_retry_after: limiters.unavailable_retry_after(),
            quotas: quota::QuotaCounters::from_limiters(limiters),
            metrics: limiters.metrics(),
            fixed_ids: match &config.limits {
                LimitSource::Fixed(limits) => limits.iter().map(key::limit_id).collect(),
                LimitSource::Plan { .. } => Vec::new(),
            },
        }
    }

    /// Uses `clock` for quota periods (tests). The counters keep their own clock: give the
    /// in-process one the same clock with [`Limiters::adopt_memory_quota`], or its counters expire
    /// on real time.
    pub fn set_quota_clock(&mut self, clock: Arc<dyn gatehouse_store::quota::WallClock>) {
        self.quotas.clock = clock;
    }

    /// Counts the request against the identity's plan quota ([`quota`]); `Some` response when it
    /// must be refused (429 over quota, 503 when the store cannot decide). Adds
    /// `X-Quota-Limit`, `X-Quota-Remaining` and `X-Quota-Reset` to every counted response.
    ///
    /// A request is counted once, however many `rate_limit` plugins apply to it (e.g. a global
    /// and a route one): the first to count it marks it in `cx.extensions` ([`QuotaCounted`]).
    pub async fn check_quota(&self, cx: &mut RequestContext) -> Option<Response<Bytes>> {
        if cx.extensions.get::<QuotaCounted>().is_some() {
            return None;
        }
        let identity = cx.identity.as_ref()?;
        let plan = self.plans.get(identity.plan.as_deref()?)?;
        let plan_quota = plan.quota.as_ref()?;
        let scope = quota::scope_id(plan_quota, identity)?;
        let now = self.quotas.clock.now_unix();
        let (requests, remaining, resets_in, refused) = match quota::count(
            &self.quotas,
            plan_quota,
            &scope,
            now,
        )
        .await
        {
            quota::QuotaOutcome::None => return None,
            quota::QuotaOutcome::Allowed {
                requests,
                used,
                resets_in,
            } => (requests, requests.saturating_sub(used), resets_in, false),
            quota::QuotaOutcome::Refused {
                requests,
                resets_in,
            } => (requests, 0, resets_in, true),
            quota::QuotaOutcome::Unavailable(error) => {
                tracing::warn!(request_id = %cx.request_id, %error, "rate_limit: quota store unavailable");
                return Some(self.unavailable(cx));
            }
        };
        cx.extensions.insert(QuotaCounted);
        for (name, value) in [
            ("x-quota-limit", requests),
            ("x-quota-remaining", remaining),
            ("x-quota-reset", resets_in),
        ] {
            cx.response_headers
                .insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
        if !refused {
            return None;
        }
        tracing::debug!(request_id = %cx.request_id, scope = %scope, "rate_limit: over quota");
        cx.short_circuit = Some("quota_exceeded");
        let mut response = problem_response(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "quota of {requests} requests per period exhausted; it resets in {resets_in} s"
            ),
            &cx.request_id,
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(resets_in));
        Some(response)
    }

    fn unavailable(&self, cx: &mut RequestContext) -> Response<Bytes> {
        cx.short_circuit = Some("rate_limit_unavailable");
        let retry = headers::ceil_secs(self.unavailable_retry_after).max(1);
        let mut response = problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the rate-limit store is unavailable",
            &cx.request_id,
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry));
        response
    }

    /// The limits that apply to `identity`.
    pub fn limits_for(&self, identity: Option<&Identity>) -> &[Limit] {
        match &self.limits {
            LimitSource::Fixed(limits) => limits,
            LimitSource::Plan { fallback } => identity
                .and_then(|id| id.plan.as_deref())
                .and_then(|plan| self.plans.get(plan))
                .map_or(fallback, |plan| &plan.limits),
        }
    }

    /// Checks (and counts) the request against every limit that applies, stopping at the first
    /// refusal.
    pub async fn decide(&self, cx: &RequestContext, req: &request::Parts) -> Outcome {
        let limits = self.limits_for(cx.identity.as_ref());
        if limits.is_empty() {
            return Outcome::Unlimited;
        }
        let request_key = key::request_key(&self.key, cx, req);
        let mut driving: Option<(&Limit, Decision)> = None;
        let fixed = matches!(self.limits, LimitSource::Fixed(_));
        for (i, limit) in limits.iter().enumerate() {
            let counter = match self.fixed_ids.get(i).filter(|_| fixed) {
                Some(id) => key::counter_key_with(id, &request_key),
                None => key::counter_key(limit, &request_key),
            };
            let decision = match self.limiter.check(&counter, limit, 1).await {
                Ok(d) => d,
                Err(e) => return Outcome::Unavailable(e.to_string()),
            };
            if !decision.allowed {
                return Outcome::Refused(limit.clone(), decision);
            }
            if driving
                .as_ref()
                .is_none_or(|(_, cur)| headers::more_restrictive(&decision, cur))
            {
                driving = Some((limit, decision));
            }
        }
        match driving {
            Some((limit, decision)) => Outcome::Allowed(limit.clone(), decision),
            None => Outcome::Unlimited,
        }
    }
}

#[async_trait]
impl Plugin for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn priority(&self) -> i32 {
        super::priority::RATE_LIMIT
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        let flow = self.access(cx, req).await;
        if let Some(m) = &self.metrics {
            let result = match &flow {
                Flow::Respond(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    metrics::Result::Error
                }
                Flow::Respond(_) => metrics::Result::Limited,
                _ => metrics::Result::Allowed,
            };
            m.route(cx.route.as_deref()).record(result);
        }
        Ok(flow)
    }
}

impl RateLimit {
    /// The access-phase decision: limits, then the quota.
    async fn access(&self, cx: &mut RequestContext, req: &request::Parts) -> Flow {
        match self.decide(cx, req).await {
            Outcome::Unlimited => self
                .check_quota(cx)
                .await
                .map_or(Flow::Continue, Flow::Respond),
            Outcome::Allowed(limit, decision) => {
                headers::add(&mut cx.response_headers, self.headers, &limit, &decision);
                self.check_quota(cx)
                    .await
                    .map_or(Flow::Continue, Flow::Respond)
            }
            Outcome::Refused(limit, decision) => {
                headers::add(&mut cx.response_headers, self.headers, &limit, &decision);
                let retry = headers::retry_after_secs(&decision);
                tracing::debug!(
                    request_id = %cx.request_id,
                    consumer = cx.identity.as_ref().and_then(|i| i.consumer_id.as_deref()).unwrap_or(""),
                    limit = %key::limit_id(&limit),
                    retry_after = retry,
                    "rate_limit: refused"
                );
                cx.short_circuit = Some("rate_limited");
                let mut response = problem_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!(
                        "rate limit of {} requests per {} s exceeded; retry in {retry} s",
                        limit.requests,
                        headers::ceil_secs(limit.per).max(1)
                    ),
                    &cx.request_id,
                );
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(retry));
                Flow::Respond(response)
            }
            Outcome::Unavailable(error) => {
                tracing::warn!(request_id = %cx.request_id, %error, "rate_limit: store unavailable");
                Flow::Respond(self.unavailable(cx))
            }
        }
    }
}

#[cfg(test)]
mod tests;
