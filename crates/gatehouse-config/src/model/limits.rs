//! Rate limits, plans, quotas and the shared-state store (runtime model).

use std::time::Duration;

use http::HeaderName;

/// Where shared state lives (`store:`). Default: in process.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreConfig {
    /// Redis, shared by every gateway instance; `None` = in-process state only.
    pub redis: Option<RedisStore>,
}

/// A Redis store.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisStore {
    /// `redis://host:port/db` (or `rediss://`).
    pub url: String,
    /// Time allowed for one decision. Default 20 ms.
    pub timeout: Duration,
    /// Multiplexed connections kept. Default 2.
    pub connections: usize,
    /// What rate limits do when Redis is slow or down. Default `local`.
    pub on_failure: StoreFailure,
    /// How long the circuit stays open after Redis failed before a probe. Default 1 s.
    pub retry_after: Duration,
}

/// Behaviour of a Redis-backed limit when Redis cannot answer within its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// Allow the request.
    FailOpen,
    /// Refuse with 503.
    FailClosed,
    /// Decide with the in-process limiter, same limits.
    Local,
}

/// A plan (`plans:`): limits and a quota shared by its consumers.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Unique name (`free`, `pro`, `enterprise`).
    pub name: String,
    /// Rate limits; empty = unlimited.
    pub limits: Vec<Limit>,
    /// Quota; `None` = unlimited.
    pub quota: Option<Quota>,
}

/// One rate limit: `requests` per `per`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// Requests allowed per period.
    pub requests: u64,
    /// The period.
    pub per: Duration,
    /// Algorithm. Default sliding window.
    pub algorithm: Algorithm,
    /// Token bucket only: requests allowed at once (bucket size). Default `requests`.
    pub burst: Option<u64>,
}

/// Rate-limit algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Token bucket as GCRA: a steady rate of `requests/per` with bursts up to `burst`.
    TokenBucket,
    /// Sliding-window counter: the previous window's count weighted by its overlap.
    SlidingWindow,
}

/// A quota: requests per calendar day/month (UTC) or rolling period.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    /// Requests allowed per period.
    pub requests: u64,
    /// The period.
    pub period: QuotaPeriod,
    /// Counted per consumer (default) or per tenant.
    pub scope: QuotaScope,
}

/// Quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    /// UTC calendar day.
    Day,
    /// UTC calendar month.
    Month,
    /// The last 24 hours.
    RollingDay,
    /// The last 30 days.
    RollingMonth,
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaScope {
    /// Each consumer.
    Consumer,
    /// Each tenant.
    Tenant,
}

/// `rate_limit` plugin settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    /// The limits applied.
    pub limits: LimitSource,
    /// What the counter is keyed by (all parts joined). Default `[consumer]` falling back to client IP.
    pub key: Vec<KeyPart>,
    /// In-process or the `store:` Redis. Default: Redis when `store.redis` is set, else memory.
    pub backend: Backend,
    /// Which response headers are sent.
    pub headers: RateLimitHeaders,
    /// Memory backend: most keys tracked per limit; idle keys are evicted first. Default 100,000.
    pub max_keys: usize,
    /// Redis backend only: decide locally and sync counts to Redis periodically (`approximate:`).
    /// Default `None` (every decision is one exact Redis round trip).
    pub approximate: Option<Approximate>,
}

/// Approximate mode of a Redis-backed `rate_limit` (for very hot keys): sliding-window limits are
/// decided in process from the last known cluster-wide count plus the local count since, and
/// each key's local count is synced to Redis every `sync_interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approximate {
    /// How often local counts are synced to Redis. Default 100 ms.
    pub sync_interval: Duration,
}

impl Default for Approximate {
    fn default() -> Self {
        Approximate {
            sync_interval: Duration::from_millis(100),
        }
    }
}

/// Where a route's limits come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitSource {
    /// These limits.
    Fixed(Vec<Limit>),
    /// The authenticated consumer's plan (`limits: plan`); callers without a plan use `fallback`.
    Plan {
        /// Limits for callers without a plan (e.g. anonymous); empty = unlimited.
        fallback: Vec<Limit>,
    },
}

/// A part of a rate-limit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// Consumer id (falls back to the client IP when unauthenticated).
    Consumer,
    /// The API key's hash.
    ApiKey,
    /// The subject (user id).
    User,
    /// The tenant.
    Tenant,
    /// The client IP (after trusted-proxy rules).
    ClientIp,
    /// The route name.
    Route,
    /// A request header's value.
    Header(HeaderName),
    /// A route path parameter.
    PathParam(String),
    /// A literal (one shared counter).
    Literal(String),
}

/// Backend of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In process (per gateway instance).
    Memory,
    /// The `store:` Redis (shared by all instances).
    Redis,
}

/// Rate-limit response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`. Default true.
    pub draft: bool,
    /// `RateLimit-Policy` + `RateLimit` (structured fields draft). Default false.
    pub structured: bool,
    /// `X-RateLimit-Limit/Remaining/Reset`. Default false.
    pub x_ratelimit: bool,
}

impl Default for RateLimitHeaders {
    fn default() -> Self {
        RateLimitHeaders {
            draft: true,
            structured: false,
            x_ratelimit: false,
        }
    }
}
