//! API keys stored in Redis: one hash per key, `<prefix><sha256 hex>`, in front of which sits the
//! in-process [`KeyCache`], and a short circuit breaker so that a Redis outage costs one timeout,
//! not one per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gatehouse_config::model::{RedisFailure, RedisKeySource};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::time::Instant;

use super::cache::{KeyCache, KeyRecord};

/// How long Redis is not asked after a failed lookup (cache or failure behaviour instead).
pub const CIRCUIT_OPEN_FOR: Duration = Duration::from_secs(1);

/// What the store concluded about a key hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A record (possibly stale when Redis is down and `serve_from_cache`).
    Found(Arc<KeyRecord>),
    /// Redis does not know the key (or its record has no `consumer`).
    Unknown,
    /// Redis could not be asked and the cache cannot answer (or `on_error: deny`).
    Unavailable,
}

/// Redis-backed key lookups with a cache.
pub struct RedisKeyStore {
    client: redis::Client,
    connection: OnceLock<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    on_error: RedisFailure,
    cache: KeyCache,
    /// Redis is not asked before this instant (set after a failure).
    circuit_open_until: Mutex<Option<Instant>>,
}

impl RedisKeyStore {
    /// A store for `source`; fails only on a URL the Redis client cannot parse. Connects lazily,
    /// on the first lookup.
    pub fn new(source: &RedisKeySource) -> Result<RedisKeyStore, String> {
        let client = redis::Client::open(source.url.as_str())
            .map_err(|e| format!("invalid redis url: {e}"))?;
        Ok(RedisKeyStore {
            client,
            connection: OnceLock::new(),
            prefix: source.prefix.clone(),
            timeout: source.timeout,
            on_error: source.on_error,
            cache: KeyCache::new(source.cache_size, source.cache_ttl, source.negative_ttl),
            circuit_open_until: Mutex::new(None),
        })
    }

    /// The cache (for tests and benches).
    pub fn cache(&self) -> &KeyCache {
        &self.cache
    }

    /// Resolves `hash` (SHA-256 hex of a key): a fresh cache entry, else Redis within the timeout,
    /// else the failure behaviour.
    pub async fn lookup(&self, hash: &str) -> Lookup {
        let now = Instant::now();
        let cached = self.cache.get(hash);
        if let Some(entry) = &cached
            && entry.is_fresh(now)
        {
            return entry.record.clone().map_or(Lookup::Unknown, Lookup::Found);
        }
        if self.circuit_open(now) {
            return self.on_failure(cached.and_then(|c| c.record));
        }
        match tokio::time::timeout(self.timeout, self.fetch(hash)).await {
            Ok(Ok(record)) => {
                let record = record.map(Arc::new);
                self.cache.store(hash, record.clone(), Instant::now());
                record.map_or(Lookup::Unknown, Lookup::Found)
            }
            Ok(Err(error)) => {
                tracing::warn!(key_hash = &hash[..8.min(hash.len())], %error, "redis api-key lookup failed");
                self.open_circuit();
                self.on_failure(cached.and_then(|c| c.record))
            }
            Err(_) => {
                tracing::warn!(key_hash = &hash[..8.min(hash.len())], timeout = ?self.timeout, "redis api-key lookup timed out");
                self.open_circuit();
                self.on_failure(cached.and_then(|c| c.record))
            }
        }
    }

    fn on_failure(&self, stale: Option<Arc<KeyRecord>>) -> Lookup {
        match (self.on_error, stale) {
            (RedisFailure::ServeFromCache, Some(record)) => Lookup::Found(record),
            _ => Lookup::Unavailable,
        }
    }

    fn circuit_open(&self, now: Instant) -> bool {
        let guard = match self.circuit_open_until.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.is_some_and(|until| now < until)
    }

    fn open_circuit(&self) {
        let mut guard = match self.circuit_open_until.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(Instant::now() + CIRCUIT_OPEN_FOR);
    }

    fn manager(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(manager) = self.connection.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        Ok(self.connection.get_or_init(|| manager).clone())
    }

    async fn fetch(&self, hash: &str) -> redis::RedisResult<Option<KeyRecord>> {
        let mut connection = self.manager()?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(format!("{}{hash}", self.prefix))
            .query_async(&mut connection)
            .await?;
        Ok(parse_record(&fields, hash))
    }
}

/// The record in a Redis hash's fields; `None` (treated as unknown) when it is empty, has no
/// `consumer`, or has an `expires_at` that is not unix seconds.
pub fn parse_record(fields: &HashMap<String, String>, hash: &str) -> Option<KeyRecord> {
    if fields.is_empty() {
        return None;
    }
    let non_empty = |name: &str| {
        fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let key_hash = &hash[..8.min(hash.len())];
    let Some(consumer) = non_empty("consumer") else {
        tracing::warn!(key_hash, "redis api-key record without `consumer`");
        return None;
    };
    let expires_at = match non_empty("expires_at") {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(secs) => Some(secs),
            Err(_) => {
                tracing::warn!(
                    key_hash,
                    "redis api-key record with an invalid `expires_at`"
                );
                return None;
            }
        },
    };
    let roles = fields.get("roles").map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect()
    });
    Some(KeyRecord {
        consumer,
        tenant: non_empty("tenant"),
        plan: non_empty("plan"),
        roles,
        expires_at,
    })
}
