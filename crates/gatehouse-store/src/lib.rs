//! Gatehouse shared state behind one trait: rate-limit decisions made in process ([`memory`]) or
//! in Redis ([`redis`]), so that several gateway instances can share exact limits.

use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::Limit;

pub mod approx;
pub mod clock;
pub mod memory;
pub mod quota;
pub mod redis;
pub mod resilient;
pub mod usage;

pub use self::redis::RedisLimiter;
pub use approx::ApproxLimiter;
pub use clock::{Clock, ManualClock, SystemClock};
pub use memory::MemoryLimiter;
pub use quota::{MemoryQuota, QuotaCounter, RedisQuota};
pub use resilient::ResilientLimiter;

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is allowed (and was counted).
    pub allowed: bool,
    /// The limit (requests per period; for a token bucket, the burst).
    pub limit: u64,
    /// Requests still allowed now.
    pub remaining: u64,
    /// Time until the allowance is fully restored (`RateLimit-Reset`).
    pub reset_after: Duration,
    /// When refused: time until a request would be allowed (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// `Retry-After` in whole seconds, rounded up (a client that waits this long is allowed);
    /// `None` when allowed.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(ceil_secs)
    }

    /// `RateLimit-Reset` in whole seconds, rounded up.
    pub fn reset_after_secs(&self) -> u64 {
        ceil_secs(self.reset_after)
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The store's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Redis did not answer within the timeout, or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store could not be set up.
    #[error("store setup: {0}")]
    Setup(String),
}

/// Makes rate-limit decisions. `key` identifies the counter (already including the limit's
/// identity, e.g. `route:consumer:60s`); `cost` is usually 1.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Checks and, when allowed, counts a request.
    async fn check(&self, key: &str, limit: &Limit, cost: u64) -> Result<Decision, Error>;
}
