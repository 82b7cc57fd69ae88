//! Quota counters in Redis, shared by every gateway instance.

use std::time::Duration;

use ::redis::Script;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use async_trait::async_trait;
use gatehouse_config::model::RedisStore;

use super::QuotaCounter;
use crate::Error;

/// Prefix of every quota key; the counter key is hash-tagged: `gatehouse:{quota:acme:2026-11}`.
pub const QUOTA_KEY_PREFIX: &str = "gatehouse:";

/// Adds ARGV[1] to KEYS[1] and makes it expire at ARGV[2] (Unix seconds), atomically.
const ADD: &str = r"
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return c
";

/// Adds ARGV[1] to KEYS[1] (expiring at ARGV[2]) only when the result stays within ARGV[3];
/// returns {added (0/1), count after}.
const TRY_ADD: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if c + cost > tonumber(ARGV[3]) then
  return {0, c}
end
c = redis.call('INCRBY', KEYS[1], cost)
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return {1, c}
";

/// Quota counters in Redis (`store.redis`): one atomic `INCRBY` + `EXPIREAT` script per request,
/// bounded by the store's `timeout` ([`Error::Unavailable`] otherwise).
pub struct RedisQuota {
    manager: ConnectionManager,
    timeout: Duration,
    add: Script,
    try_add: Script,
}

impl std::fmt::Debug for RedisQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQuota")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisQuota {
    /// One lazily opened multiplexed connection (Redis need not be up). Fails only on an invalid
    /// URL. Must be called within a Tokio runtime.
    pub fn new(cfg: &RedisStore) -> Result<Self, Error> {
        let client = ::redis::Client::open(cfg.url.as_str())
            .map_err(|e| Error::Setup(format!("redis url: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.timeout))
            .set_response_timeout(Some(cfg.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| Error::Setup(format!("redis connection: {e}")))?;
        Ok(RedisQuota {
            manager,
            timeout: cfg.timeout,
            add: Script::new(ADD),
            try_add: Script::new(TRY_ADD),
        })
    }

    /// The Redis key of a quota counter.
    pub fn redis_key(key: &str) -> String {
        format!("{QUOTA_KEY_PREFIX}{{{key}}}")
    }

    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = ::redis::RedisResult<T>>,
    ) -> Result<T, Error> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| Error::Unavailable(format!("redis: no answer within {:?}", self.timeout)))?
            .map_err(|e| Error::Unavailable(format!("redis: {e}")))
    }
}

#[async_trait]
impl QuotaCounter for RedisQuota {
    async fn add(&self, key: &str, period_end_unix: u64, cost: u64) -> Result<u64, Error> {
        let mut connection = self.manager.clone();
        let mut invocation = self.add.prepare_invoke();
        invocation
            .key(Self::redis_key(key))
            .arg(cost)
            .arg(period_end_unix);
        let count: i64 = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn try_add(
        &self,
        key: &str,
        period_end_unix: u64,
        cost: u64,
        limit: u64,
    ) -> Result<(bool, u64), Error> {
        let mut connection = self.manager.clone();
        let mut invocation = self.try_add.prepare_invoke();
        invocation
            .key(Self::redis_key(key))
            .arg(cost)
            .arg(period_end_unix)
            .arg(limit);
        let reply: Vec<i64> = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        let [added, count] = reply[..] else {
            return Err(Error::Unavailable(format!(
                "redis: unexpected reply {reply:?}"
            )));
        };
        Ok((added == 1, u64::try_from(count).unwrap_or(0)))
    }

    async fn get(&self, key: &str) -> Result<u64, Error> {
        let mut connection = self.manager.clone();
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(Self::redis_key(key));
        let count: Option<i64> = self.bounded(cmd.query_async(&mut connection)).await?;
        Ok(count.and_then(|c| u64::try_from(c).ok()).unwrap_or(0))
    }
}
