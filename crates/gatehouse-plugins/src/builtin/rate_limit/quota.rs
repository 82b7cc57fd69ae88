//! Plan quotas in the `rate_limit` plugin: long-period counts per consumer or tenant.
//!
//! A request whose identity's plan has a `quota` is counted against it (scope `consumer` →
//! the consumer id, `tenant` → the tenant; a caller without that id is not counted). Only
//! requests within the quota are counted, so a refused request does not use it up. Calendar
//! periods (`day`, `month`) are UTC; rolling periods (`rolling_day`, `rolling_month`) are
//! sliding windows over hourly / daily buckets ([`gatehouse_store::quota::rolling`]).

use std::sync::Arc;

use gatehouse_config::model::{Quota, QuotaScope, StoreFailure};
use gatehouse_store::Error;
use gatehouse_store::quota::{
    PeriodWindow, QuotaCounter, RollingWindow, WallClock, period_window, quota_key, rolling_key,
};

use super::Limiters;
use crate::Identity;

/// What the quota said about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaOutcome {
    /// No quota applies (no plan quota, or no id for its scope).
    None,
    /// Counted; `used` after counting.
    Allowed {
        /// Requests per period.
        requests: u64,
        /// Requests counted in this period.
        used: u64,
        /// Seconds until the period ends (rolling: until nothing is counted any more).
        resets_in: u64,
    },
    /// Over quota: not counted.
    Refused {
        /// Requests per period.
        requests: u64,
        /// Seconds until the period ends (rolling: until the request would fit); at least 1.
        resets_in: u64,
    },
    /// The quota store could not decide (`on_failure: fail_closed`).
    Unavailable(String),
}

/// The id a quota counts `identity` under: `consumer:<id>` or `tenant:<id>`.
pub fn scope_id(quota: &Quota, identity: &Identity) -> Option<String> {
    let id = match quota.scope {
        QuotaScope::Consumer => identity.consumer_id.as_deref(),
        QuotaScope::Tenant => identity.tenant.as_deref(),
    };
    id.map(|id| gatehouse_store::quota::scope_id(quota.scope, id))
}

/// Counts a request of `scope_id` against `quota` at `now_unix`. A failing Redis counter follows
/// `store.redis.on_failure`: `fail_open` → not counted, allowed; `fail_closed` →
/// [`QuotaOutcome::Unavailable`]; `local` → counted in process.
pub async fn count(
    limiters: &QuotaCounters,
    quota: &Quota,
    scope_id: &str,
    now_unix: u64,
) -> QuotaOutcome {
    let Some(window) = period_window(quota.period, now_unix) else {
        return count_rolling(limiters, quota, scope_id, now_unix).await;
    };
    let key = quota_key(scope_id, &window);
    let resets_in = window.end_unix.saturating_sub(now_unix).max(1);
    let add = |counter: Arc<dyn QuotaCounter>| {
        let key = key.clone();
        async move {
            counter
                .try_add(&key, window.end_unix, 1, quota.requests)
                .await
        }
    };
    let result = match with_failover(limiters, add).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    match result {
        (true, used) => QuotaOutcome::Allowed {
            requests: quota.requests,
            used,
            resets_in,
        },
        (false, _) => QuotaOutcome::Refused {
            requests: quota.requests,
            resets_in,
        },
    }
}

/// Runs `op` on the quota counter; when the store fails, follows `on_failure`: `fail_closed` (or
/// no Redis) → [`QuotaOutcome::Unavailable`], `fail_open` → [`QuotaOutcome::None`] (not counted),
/// `local` → `op` on the in-process counter.
async fn with_failover<T, F, Fut>(limiters: &QuotaCounters, op: F) -> Result<T, QuotaOutcome>
where
    F: Fn(Arc<dyn QuotaCounter>) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let error = match op(limiters.counter.clone()).await {
        Ok(r) => return Ok(r),
        Err(error) => error,
    };
    match limiters.on_failure {
        Some(StoreFailure::FailClosed) | None => Err(QuotaOutcome::Unavailable(error.to_string())),
        Some(StoreFailure::FailOpen) => {
            tracing::warn!(%error, "quota: store unavailable, not counted (fail_open)");
            Err(QuotaOutcome::None)
        }
        Some(StoreFailure::Local) => op(limiters.local.clone())
            .await
            .map_err(|e| QuotaOutcome::Unavailable(e.to_string())),
    }
}

/// Counts a request against a rolling quota (`on_failure` as in [`count`]).
async fn count_rolling(
    limiters: &QuotaCounters,
    quota: &Quota,
    scope_id: &str,
    now_unix: u64,
) -> QuotaOutcome {
    let Some(window) = RollingWindow::of(quota.period) else {
        return QuotaOutcome::None;
    };
    let key = rolling_key(scope_id, quota.period);
    let add = |counter: Arc<dyn QuotaCounter>| {
        let key = key.clone();
        async move {
            counter
                .try_add_rolling(&key, window, now_unix, 1, quota.requests)
                .await
        }
    };
    let outcome = match with_failover(limiters, add).await {
        Ok(o) => o,
        Err(outcome) => return outcome,
    };
    match outcome.retry_in {
        None => QuotaOutcome::Allowed {
            requests: quota.requests,
            used: outcome.used,
            resets_in: outcome.restored_in,
        },
        Some(retry) => QuotaOutcome::Refused {
            requests: quota.requests,
            resets_in: retry,
        },
    }
}

/// The usage of `scope_id` under `quota` at `now_unix`: requests counted in the current period
/// and the period. For a rolling quota, the window's count and a window from its oldest bucket to
/// when everything counted now has left it (`label` is the period's name).
pub async fn usage(
    counter: &dyn QuotaCounter,
    quota: &Quota,
    scope_id: &str,
    now_unix: u64,
) -> Result<Option<(u64, PeriodWindow)>, Error> {
    let Some(window) = period_window(quota.period, now_unix) else {
        let Some(rolling) = RollingWindow::of(quota.period) else {
            return Ok(None);
        };
        let key = rolling_key(scope_id, quota.period);
        let read = counter
            .try_add_rolling(&key, rolling, now_unix, 0, quota.requests)
            .await?;
        let label = key.rsplit(':').next().unwrap_or_default().to_owned();
        let window = PeriodWindow {
            label,
            start_unix: rolling.oldest(now_unix) * rolling.bucket_secs,
            end_unix: now_unix + read.restored_in,
        };
        return Ok(Some((read.used, window)));
    };
    let used = counter.get(&quota_key(scope_id, &window)).await?;
    Ok(Some((used, window)))
}

/// The quota counters a plugin uses, taken from [`Limiters`].
#[derive(Clone)]
pub struct QuotaCounters {
    /// The counter ([`Limiters::quota`]).
    pub counter: Arc<dyn QuotaCounter>,
    /// The in-process fallback (`on_failure: local`).
    pub local: Arc<dyn QuotaCounter>,
    /// `store.redis.on_failure` (`None`: in process only).
    pub on_failure: Option<StoreFailure>,
    /// Wall clock for the periods.
    pub clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for QuotaCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaCounters")
            .field("on_failure", &self.on_failure)
            .finish_non_exhaustive()
    }
}

impl QuotaCounters {
    /// The counters of `limiters`, on the system clock.
    pub fn from_limiters(limiters: &Limiters) -> Self {
        QuotaCounters {
            counter: limiters.quota(),
            local: limiters.memory_quota(),
            on_failure: limiters.on_failure(),
            clock: Arc::new(gatehouse_store::quota::SystemWallClock),
        }
    }
}

#[cfg(test)]
mod tests;
