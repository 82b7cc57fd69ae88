//! The Redis limiter: one atomic round trip per decision, shared by every gateway instance.
//!
//! Layout: one key per counter, `gatehouse:rl:{<counter key>}` (the braces are a Redis Cluster
//! hash tag: everything a decision touches hashes to one slot). GCRA keys hold the TAT in
//! microseconds as a string; sliding-window keys are hashes `{w: window index, c: current count,
//! p: previous count}`. Every write sets a TTL (`PX`/`PEXPIRE`) of the time until the state is
//! fully restored, plus 1 ms, so idle keys disappear by themselves.

mod scripts;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ::redis::Script;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use gatehouse_config::model::{Algorithm, Limit, RedisStore};

use crate::{Decision, Error, RateLimiter};

/// Prefix of every rate-limit key.
pub const KEY_PREFIX: &str = "gatehouse:rl:";

/// One lazily opened multiplexed connection to `cfg.url` with the store's timeouts (Redis need
/// not be up). Fails only on an invalid URL. Must be called within a Tokio runtime.
pub(crate) fn connection(cfg: &RedisStore) -> Result<ConnectionManager, Error> {
    connect(&cfg.url, cfg.timeout)
}

/// One lazily opened multiplexed connection to `url` whose connect and response timeouts are
/// `timeout`, reconnecting once with at most 100 ms back-off (Redis need not be up). Fails only
/// on an invalid URL. Must be called within a Tokio runtime. Every Redis user of the gateway
/// (limits, quotas, usage, API keys' cache, response cache) connects through this.
pub fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, Error> {
    let client = ::redis::Client::open(url).map_err(|e| Error::Setup(format!("redis url: {e}")))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(100));
    ConnectionManager::new_lazy_with_config(client, config)
        .map_err(|e| Error::Setup(format!("redis connection: {e}")))
}

/// `fut` within `timeout`; a timeout or a Redis error is [`Error::Unavailable`].
pub(crate) async fn bounded<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = ::redis::RedisResult<T>>,
) -> Result<T, Error> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| Error::Unavailable(format!("redis: no answer within {timeout:?}")))?
        .map_err(|e| Error::Unavailable(format!("redis: {e}")))
}

/// Rate limiter in Redis (`store.redis`). Decisions are exact across gateway instances sharing
/// the Redis; each is bounded by `timeout` and fails with [`Error::Unavailable`] otherwise (wrap
/// it in [`crate::ResilientLimiter`] for the `on_failure` behaviour).
pub struct RedisLimiter {
    managers: Vec<ConnectionManager>,
    next: AtomicUsize,
    timeout: Duration,
    gcra: Script,
    window: Script,
}

impl RedisLimiter {
    /// Sets up `cfg.connections` (at least 1) multiplexed connections, opened lazily: Redis need
    /// not be up yet. Fails only on an invalid URL. Must be called within a Tokio runtime.
    pub fn new(cfg: &RedisStore) -> Result<Self, Error> {
        let managers = (0..cfg.connections.max(1))
            .map(|_| connection(cfg))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RedisLimiter {
            managers,
            next: AtomicUsize::new(0),
            timeout: cfg.timeout,
            gcra: Script::new(scripts::GCRA),
            window: Script::new(scripts::SLIDING_WINDOW),
        })
    }

    /// A clone of one of its multiplexed connections (e.g. for [`crate::ApproxLimiter`]'s syncs).
    pub fn connection(&self) -> ConnectionManager {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.managers.len();
        self.managers[i].clone()
    }

    /// The Redis key of a counter.
    pub fn redis_key(key: &str) -> String {
        format!("{KEY_PREFIX}{{{key}}}")
    }

    async fn run(&self, key: &str, limit: &Limit, cost: u64) -> ::redis::RedisResult<Vec<i64>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.managers.len();
        let mut connection = self.managers[i].clone();
        let per_us = u64::try_from(limit.per.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let requests = limit.requests.max(1);
        let mut invocation = match limit.algorithm {
            Algorithm::TokenBucket => {
                let mut inv = self.gcra.prepare_invoke();
                inv.arg(per_us)
                    .arg(requests)
                    .arg(limit.burst.unwrap_or(requests).max(1));
                inv
            }
            Algorithm::SlidingWindow => {
                let mut inv = self.window.prepare_invoke();
                inv.arg(per_us).arg(limit.requests);
                inv
            }
        };
        invocation.key(Self::redis_key(key)).arg(cost);
        invocation.invoke_async(&mut connection).await
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &str, limit: &Limit, cost: u64) -> Result<Decision, Error> {
        let reply = tokio::time::timeout(self.timeout, self.run(key, limit, cost))
            .await
            .map_err(|_| Error::Unavailable(format!("redis: no answer within {:?}", self.timeout)))?
            .map_err(|e| Error::Unavailable(format!("redis: {e}")))?;
        let [allowed, remaining, reset_us, retry_us] = reply[..] else {
            return Err(Error::Unavailable(format!(
                "redis: unexpected reply {reply:?}"
            )));
        };
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: match limit.algorithm {
                Algorithm::TokenBucket => limit.burst.unwrap_or(limit.requests).max(1),
                Algorithm::SlidingWindow => limit.requests,
            },
            remaining: u64::try_from(remaining).unwrap_or(0),
            reset_after: micros(reset_us),
            retry_after: (retry_us >= 0 && allowed != 1).then(|| micros(retry_us)),
        })
    }
}
