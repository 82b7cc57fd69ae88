//! Quota counters in Redis, shared by every gateway instance.

use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use gatehouse_config::model::RedisStore;

use super::{QuotaCounter, RollingOutcome, RollingWindow};
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

/// A rolling quota: a hash of bucket index → count in KEYS[1]. Drops buckets older than ARGV[2],
/// adds ARGV[3] to bucket ARGV[1] when the total stays within ARGV[4] (and ARGV[3] > 0), making
/// the key expire at ARGV[5] (Unix seconds: when that bucket stops counting). Returns
/// {added (0/1), bucket, count, bucket, count, …} (the counts before adding).
const ROLLING: &str = r"
local cur = tonumber(ARGV[1])
local oldest = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local flat = redis.call('HGETALL', KEYS[1])
local used = 0
local out = {0}
for i = 1, #flat, 2 do
  local b = tonumber(flat[i])
  local c = tonumber(flat[i + 1])
  if b < oldest then
    redis.call('HDEL', KEYS[1], flat[i])
  else
    used = used + c
    out[#out + 1] = b
    out[#out + 1] = c
  end
end
if cost > 0 and used + cost <= tonumber(ARGV[4]) then
  redis.call('HINCRBY', KEYS[1], ARGV[1], cost)
  redis.call('EXPIREAT', KEYS[1], ARGV[5])
  out[1] = 1
end
return out
";

/// Quota counters in Redis (`store.redis`): one atomic `INCRBY` + `EXPIREAT` script per request,
/// bounded by the store's `timeout` ([`Error::Unavailable`] otherwise).
pub struct RedisQuota {
    manager: ConnectionManager,
    timeout: Duration,
    add: Script,
    try_add: Script,
    rolling: Script,
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
        let manager = crate::redis::connection(cfg)?;
        Ok(RedisQuota {
            manager,
            timeout: cfg.timeout,
            add: Script::new(ADD),
            try_add: Script::new(TRY_ADD),
            rolling: Script::new(ROLLING),
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

    async fn try_add_rolling(
        &self,
        key: &str,
        window: RollingWindow,
        now_unix: u64,
        cost: u64,
        limit: u64,
    ) -> Result<RollingOutcome, Error> {
        let current = window.bucket(now_unix);
        let mut connection = self.manager.clone();
        let mut invocation = self.rolling.prepare_invoke();
        invocation
            .key(Self::redis_key(key))
            .arg(current)
            .arg(window.oldest(now_unix))
            .arg(cost)
            .arg(limit)
            .arg(window.leaves_at(current));
        let reply: Vec<i64> = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        let Some((&added, pairs)) = reply.split_first() else {
            return Err(Error::Unavailable("redis: empty reply".into()));
        };
        let added = added == 1;
        let mut buckets: Vec<(u64, u64)> = pairs
            .chunks_exact(2)
            .map(|p| {
                (
                    u64::try_from(p[0]).unwrap_or(0),
                    u64::try_from(p[1]).unwrap_or(0),
                )
            })
            .collect();
        if added {
            super::rolling::add_to(&mut buckets, current, cost);
        }
        Ok(RollingOutcome::new(
            &window,
            &buckets,
            now_unix,
            added || cost == 0,
            cost,
            limit,
        ))
    }
}
