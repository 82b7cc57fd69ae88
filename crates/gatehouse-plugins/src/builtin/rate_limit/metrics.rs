//! Rate-limit metrics: `gatehouse_ratelimit_decisions_total{route,result}` and
//! `gatehouse_ratelimit_store_state{backend}`.
//!
//! The per-route counters are created when a snapshot is built ([`Limiters::prepare_metrics`]
//! with the configuration's route names) and kept across reloads by route name. A decision costs
//! one lookup of the route's name in that immutable map (no lock) and one atomic increment.
//! Label values are configured route names only; a request without a route counts under
//! `route=""`.
//!
//! [`Limiters::prepare_metrics`]: super::Limiters::prepare_metrics

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_metrics::{Collector, Counter, Encoder};
use gatehouse_store::{RedisLimiter, ResilientLimiter};

/// What a `rate_limit` decision said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Result {
    /// Allowed (also: no limit applied).
    Allowed,
    /// Refused: 429 (a rate limit or the quota).
    Limited,
    /// The store could not decide: 503.
    Error,
}

/// One route's decision counters.
#[derive(Debug, Default)]
pub struct RouteDecisions {
    allowed: Counter,
    limited: Counter,
    error: Counter,
}

impl RouteDecisions {
    /// Counts one decision.
    pub fn record(&self, result: Result) {
        match result {
            Result::Allowed => self.allowed.inc(),
            Result::Limited => self.limited.inc(),
            Result::Error => self.error.inc(),
        }
    }
}

/// The collector of one snapshot (registered in its metrics registry).
pub struct RateLimitMetrics {
    routes: HashMap<Arc<str>, Arc<RouteDecisions>>,
    unrouted: Arc<RouteDecisions>,
    breaker: Option<Arc<ResilientLimiter<RedisLimiter>>>,
}

impl std::fmt::Debug for RateLimitMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitMetrics")
            .field("routes", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl RateLimitMetrics {
    /// Counters for `routes`, reusing those of `previous` for routes it had.
    pub fn new<'a>(
        routes: impl IntoIterator<Item = &'a str>,
        previous: Option<&RateLimitMetrics>,
        breaker: Option<Arc<ResilientLimiter<RedisLimiter>>>,
    ) -> Self {
        let routes = routes
            .into_iter()
            .map(|name| {
                let counters = previous
                    .and_then(|p| p.routes.get(name).cloned())
                    .unwrap_or_default();
                (Arc::from(name), counters)
            })
            .collect();
        RateLimitMetrics {
            routes,
            unrouted: previous.map(|p| p.unrouted.clone()).unwrap_or_default(),
            breaker,
        }
    }

    /// The counters of `route` (`None` or an unknown name: `route=""`).
    pub fn route(&self, route: Option<&str>) -> &RouteDecisions {
        route
            .and_then(|r| self.routes.get(r))
            .unwrap_or(&self.unrouted)
    }
}

const DECISIONS_HELP: &str = "rate_limit decisions by route and result (allowed, limited, error)";
const STATE_HELP: &str = "rate-limit store circuit breaker: 0 closed, 1 open (or probing)";

impl Collector for RateLimitMetrics {
    fn collect(&self, out: &mut Encoder) {
        let mut routes: Vec<(&str, &RouteDecisions)> = self
            .routes
            .iter()
            .map(|(name, c)| (&**name, &**c))
            .collect();
        routes.sort_unstable_by_key(|(name, _)| *name);
        routes.push(("", &self.unrouted));
        for (route, c) in routes {
            for (result, counter) in [
                ("allowed", &c.allowed),
                ("limited", &c.limited),
                ("error", &c.error),
            ] {
                out.counter(
                    "gatehouse_ratelimit_decisions",
                    DECISIONS_HELP,
                    &[("route", route), ("result", result)],
                    counter.get(),
                );
            }
        }
        if let Some(breaker) = &self.breaker {
            out.gauge(
                "gatehouse_ratelimit_store_state",
                STATE_HELP,
                &[("backend", "redis")],
                if breaker.is_open() { 1.0 } else { 0.0 },
            );
        }
    }
}

#[cfg(test)]
mod tests;
