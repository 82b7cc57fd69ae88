//! Failure handling around a remote limiter: a timeout-bounded call, a circuit breaker, and the
//! configured `on_failure` decision.
//!
//! Circuit breaker: closed → (a call fails) → open for `retry_after`: no remote call, every
//! decision is made at once per `on_failure` → after `retry_after`, the next call is the single
//! probe (half-open; others keep the `on_failure` decision) → success closes the circuit, failure
//! opens it again for `retry_after`. One log line per state change: `warn` when it opens, `info`
//! when it closes (a failed probe is logged at `debug`). A probe that never finishes (its request
//! was cancelled) is replaced by another after `retry_after`.

#[cfg(test)]
mod tests;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::{Algorithm, Limit, RedisStore, StoreFailure};
use tokio::time::Instant;

use crate::redis::RedisLimiter;
use crate::{Decision, Error, MemoryLimiter, RateLimiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Circuit {
    Closed,
    /// No remote call until then.
    Open {
        until: Instant,
    },
    /// One probe is in flight (since `until - retry_after`).
    Probing {
        until: Instant,
    },
}

/// What the breaker says to do with one call.
enum Route {
    Remote { probe: bool },
    Fallback,
}

/// A remote limiter with the `on_failure` behaviour and a circuit breaker:
/// - `fail_open`: an allowed [`Decision`] (`remaining` = the full limit, no reset);
/// - `fail_closed`: [`Error::Unavailable`] (the plugin answers 503);
/// - `local`: the decision of an in-process [`MemoryLimiter`] with the same limits (per instance,
///   so a cluster of N gateways allows up to N times the limit while Redis is down).
pub struct ResilientLimiter<L: RateLimiter> {
    inner: L,
    on_failure: StoreFailure,
    retry_after: Duration,
    local: MemoryLimiter,
    circuit: Mutex<Circuit>,
    opened: AtomicU64,
}

impl ResilientLimiter<RedisLimiter> {
    /// A [`RedisLimiter`] for `cfg` with its `on_failure` and `retry_after`; `max_keys` bounds the
    /// local fallback limiter.
    pub fn redis(cfg: &RedisStore, max_keys: usize) -> Result<Self, Error> {
        Ok(Self::new(
            RedisLimiter::new(cfg)?,
            cfg.on_failure,
            cfg.retry_after,
            max_keys,
        ))
    }
}

impl<L: RateLimiter> ResilientLimiter<L> {
    /// Wraps `inner` (which must bound its own calls in time, as [`RedisLimiter`] does).
    pub fn new(inner: L, on_failure: StoreFailure, retry_after: Duration, max_keys: usize) -> Self {
        ResilientLimiter {
            inner,
            on_failure,
            retry_after,
            local: MemoryLimiter::new(max_keys),
            circuit: Mutex::new(Circuit::Closed),
            opened: AtomicU64::new(0),
        }
    }

    /// The wrapped limiter.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Whether the circuit is open or probing now (remote calls are skipped).
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), Circuit::Closed)
    }

    /// How many times the circuit opened (closed → open), for a metric.
    pub fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Circuit> {
        match self.circuit.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn route(&self) -> Route {
        let now = Instant::now();
        let mut circuit = self.lock();
        match *circuit {
            Circuit::Closed => Route::Remote { probe: false },
            Circuit::Open { until } | Circuit::Probing { until } if now >= until => {
                *circuit = Circuit::Probing {
                    until: now + self.retry_after,
                };
                Route::Remote { probe: true }
            }
            Circuit::Open { .. } | Circuit::Probing { .. } => Route::Fallback,
        }
    }

    fn succeeded(&self) {
        let mut circuit = self.lock();
        if *circuit != Circuit::Closed {
            *circuit = Circuit::Closed;
            drop(circuit);
            tracing::info!("rate-limit store reachable again: circuit closed");
        }
    }

    fn failed(&self, probe: bool, error: &Error) {
        let until = Instant::now() + self.retry_after;
        let mut circuit = self.lock();
        match *circuit {
            Circuit::Closed => {
                *circuit = Circuit::Open { until };
                drop(circuit);
                self.opened.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    %error,
                    retry_after = ?self.retry_after,
                    on_failure = ?self.on_failure,
                    "rate-limit store failed: circuit open"
                );
            }
            Circuit::Probing { .. } if probe => {
                *circuit = Circuit::Open { until };
                drop(circuit);
                tracing::debug!(%error, "rate-limit store probe failed: circuit stays open");
            }
            _ => {}
        }
    }

    fn fallback(&self, key: &str, limit: &Limit, cost: u64) -> Result<Decision, Error> {
        match self.on_failure {
            StoreFailure::FailOpen => {
                let size = match limit.algorithm {
                    Algorithm::TokenBucket => limit.burst.unwrap_or(limit.requests).max(1),
                    Algorithm::SlidingWindow => limit.requests,
                };
                Ok(Decision {
                    allowed: true,
                    limit: size,
                    remaining: size,
                    reset_after: Duration::ZERO,
                    retry_after: None,
                })
            }
            StoreFailure::FailClosed => Err(Error::Unavailable(
                "rate-limit store unavailable (fail_closed)".into(),
            )),
            StoreFailure::Local => Ok(self.local.decide(key, limit, cost)),
        }
    }
}

#[async_trait]
impl<L: RateLimiter> RateLimiter for ResilientLimiter<L> {
    async fn check(&self, key: &str, limit: &Limit, cost: u64) -> Result<Decision, Error> {
        let Route::Remote { probe } = self.route() else {
            return self.fallback(key, limit, cost);
        };
        match self.inner.check(key, limit, cost).await {
            Ok(decision) => {
                self.succeeded();
                Ok(decision)
            }
            Err(error) => {
                self.failed(probe, &error);
                self.fallback(key, limit, cost)
            }
        }
    }
}
