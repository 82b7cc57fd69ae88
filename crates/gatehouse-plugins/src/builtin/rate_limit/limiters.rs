//! The rate limiters of a gateway process: built once, shared by every `rate_limit` plugin and
//! carried over configuration reloads so that counters survive them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gatehouse_config::model::StoreConfig;

use super::metrics::RateLimitMetrics;
use gatehouse_store::{
    ApproxLimiter, MemoryLimiter, MemoryQuota, QuotaCounter, RateLimiter, RedisLimiter, RedisQuota,
    ResilientLimiter,
};

/// Makes an in-process limiter tracking at most `max_keys` keys.
pub type MemoryFactory = Arc<dyn Fn(usize) -> Arc<dyn RateLimiter> + Send + Sync>;

/// Keys tracked by the in-process fallback of the Redis limiter (`on_failure: local`).
pub const LOCAL_FALLBACK_MAX_KEYS: usize = 100_000;

/// `Retry-After` of a 503 when the store fails and no `store.redis` says otherwise.
const DEFAULT_UNAVAILABLE_RETRY: Duration = Duration::from_secs(1);

/// The limiters every `rate_limit` plugin of a configuration draws from.
///
/// In-process limiters are created lazily, one per distinct `max_keys`, and shared by every plugin
/// with that `max_keys` (their counter keys differ by key parts and limit, see `docs/rate-limiting.md`).
/// The Redis limiter (already wrapped with the `on_failure` behaviour) exists when `store.redis`
/// is configured.
pub struct Limiters {
    store: StoreConfig,
    redis: Option<Arc<dyn RateLimiter>>,
    breaker: Option<Arc<ResilientLimiter<RedisLimiter>>>,
    approximate: Mutex<HashMap<(Duration, usize), Arc<dyn RateLimiter>>>,
    metrics: Mutex<Option<Arc<RateLimitMetrics>>>,
    new_memory: Option<MemoryFactory>,
    memory: Mutex<HashMap<usize, Arc<dyn RateLimiter>>>,
    memory_quota: Mutex<Arc<dyn QuotaCounter>>,
    redis_quota: Option<Arc<dyn QuotaCounter>>,
}

impl fmt::Debug for Limiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiters")
            .field("store", &self.store)
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Limiters {
    /// In-process limiters only (no `store:`).
    fn default() -> Self {
        Limiters::from_parts(StoreConfig::default(), None, Some(memory_factory()))
    }
}

/// Makes [`MemoryLimiter`]s on the system clock.
pub fn memory_factory() -> MemoryFactory {
    Arc::new(|max_keys| Arc::new(MemoryLimiter::new(max_keys)) as Arc<dyn RateLimiter>)
}

impl Limiters {
    /// Limiters for `store`: in-process ones, and the Redis one (with its `on_failure` behaviour
    /// and circuit breaker; its `local` fallback tracks at most [`LOCAL_FALLBACK_MAX_KEYS`] keys)
    /// when `store.redis` is set. Connections are opened lazily: Redis need not be up. Must be
    /// called within a Tokio runtime when `store.redis` is set.
    pub fn new(store: &StoreConfig) -> std::result::Result<Limiters, String> {
        let breaker = match &store.redis {
            Some(cfg) => Some(Arc::new(
                ResilientLimiter::redis(cfg, LOCAL_FALLBACK_MAX_KEYS).map_err(|e| e.to_string())?,
            )),
            None => None,
        };
        let redis = breaker.clone().map(|b| b as Arc<dyn RateLimiter>);
        let mut limiters = Limiters::from_parts(store.clone(), redis, Some(memory_factory()));
        limiters.breaker = breaker;
        if let Some(cfg) = &store.redis {
            limiters.redis_quota = Some(Arc::new(RedisQuota::new(cfg).map_err(|e| e.to_string())?));
        }
        Ok(limiters)
    }

    /// Limiters for `store`, from already-built parts: the Redis limiter (with its failure mode
    /// applied) and how to make in-process limiters.
    pub fn from_parts(
        store: StoreConfig,
        redis: Option<Arc<dyn RateLimiter>>,
        new_memory: Option<MemoryFactory>,
    ) -> Limiters {
        Limiters {
            store,
            redis,
            breaker: None,
            approximate: Mutex::new(HashMap::new()),
            metrics: Mutex::new(None),
            new_memory,
            memory: Mutex::new(HashMap::new()),
            memory_quota: Mutex::new(Arc::new(MemoryQuota::new(LOCAL_FALLBACK_MAX_KEYS))),
            redis_quota: None,
        }
    }

    /// The `store:` settings these limiters were built for.
    pub fn store(&self) -> &StoreConfig {
        &self.store
    }

    /// The Redis limiter, when `store.redis` is configured.
    pub fn redis(&self) -> Option<Arc<dyn RateLimiter>> {
        self.redis.clone()
    }

    /// Builds the metrics collector for a snapshot with these `routes` (counters of routes the
    /// previous one had are kept) and makes it the one new `rate_limit` plugins record into.
    /// The caller registers it in the snapshot's registry; the plugins keep it alive.
    pub fn prepare_metrics<'a>(
        &self,
        routes: impl IntoIterator<Item = &'a str>,
    ) -> Arc<RateLimitMetrics> {
        let mut current = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = Arc::new(RateLimitMetrics::new(
            routes,
            current.as_deref(),
            self.breaker.clone(),
        ));
        *current = Some(fresh.clone());
        fresh
    }

    /// The collector new `rate_limit` plugins record into (see [`Limiters::prepare_metrics`]).
    pub fn metrics(&self) -> Option<Arc<RateLimitMetrics>> {
        self.metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The Redis limiter's circuit breaker (its state for metrics), when `store.redis` is set.
    pub fn redis_breaker(&self) -> Option<&Arc<ResilientLimiter<RedisLimiter>>> {
        self.breaker.as_ref()
    }

    /// The approximate-mode limiter syncing every `sync_interval` and tracking at most
    /// `max_keys` keys locally (created on first use, then shared by every plugin with these
    /// settings); token buckets and untracked keys go to the Redis limiter. `None` without
    /// `store.redis`. Must be called within a Tokio runtime.
    pub fn approximate(
        &self,
        sync_interval: Duration,
        max_keys: usize,
    ) -> Option<Arc<dyn RateLimiter>> {
        let breaker = self.breaker.as_ref()?;
        let mut map = self
            .approximate
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let limiter = map.entry((sync_interval, max_keys)).or_insert_with(|| {
            Arc::new(ApproxLimiter::new(
                breaker.inner().connection(),
                breaker.clone(),
                sync_interval,
                max_keys,
            ))
        });
        Some(limiter.clone())
    }

    /// The in-process limiter for `max_keys` (created on first use, then shared).
    pub fn memory(&self, max_keys: usize) -> Option<Arc<dyn RateLimiter>> {
        let mut map = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limiter) = map.get(&max_keys) {
            return Some(limiter.clone());
        }
        let limiter = (self.new_memory.as_ref()?)(max_keys);
        map.insert(max_keys, limiter.clone());
        Some(limiter)
    }

    /// The in-process limiters created so far, with their `max_keys`: to carry them into
    /// limiters for a changed `store:`.
    pub fn memory_limiters(&self) -> Vec<(usize, Arc<dyn RateLimiter>)> {
        let map = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Adopts in-process limiters (e.g. from the previous configuration's [`memory_limiters`]).
    ///
    /// [`memory_limiters`]: Limiters::memory_limiters
    pub fn adopt_memory(&self, limiters: Vec<(usize, Arc<dyn RateLimiter>)>) {
        let mut map = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
        map.extend(limiters);
    }

    /// `Retry-After` of a 503 when the store cannot decide: `store.redis.retry_after` (how long
    /// the circuit stays open), else 1 s.
    pub fn unavailable_retry_after(&self) -> Duration {
        self.store
            .redis
            .as_ref()
            .map_or(DEFAULT_UNAVAILABLE_RETRY, |r| r.retry_after)
    }

    /// The quota counter: in Redis when `store.redis` is configured (whatever a plugin's
    /// `backend`), else in process (at most [`LOCAL_FALLBACK_MAX_KEYS`] counters).
    pub fn quota(&self) -> Arc<dyn QuotaCounter> {
        self.redis_quota
            .clone()
            .unwrap_or_else(|| self.memory_quota())
    }

    /// The in-process quota counter (also the `on_failure: local` fallback).
    pub fn memory_quota(&self) -> Arc<dyn QuotaCounter> {
        self.memory_quota
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the in-process quota counter (tests; or carry `previous.memory_quota()` over a
    /// reload so that in-process quota counts survive it).
    pub fn adopt_memory_quota(&self, counter: Arc<dyn QuotaCounter>) {
        *self
            .memory_quota
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = counter;
    }

    /// The `store.redis.on_failure` mode, when Redis is configured.
    pub fn on_failure(&self) -> Option<gatehouse_config::model::StoreFailure> {
        self.store.redis.as_ref().map(|r| r.on_failure)
    }
}
