//! The in-process cache of Redis key lookups.
//!
//! Backed by `quick_cache`'s sync cache rather than `moka`'s async one: a lookup is a plain,
//! lock-light `get` on the request path (no `.await`, no background maintenance task), the size
//! cap is enforced on insert (S3-FIFO eviction), and the freshness of an entry is ours to decide:
//! `serve_from_cache` must still find entries whose TTL has passed while Redis is down, which a
//! cache that drops expired entries by itself (moka's `time_to_live`) would not allow. Times are
//! [`tokio::time::Instant`]s so that tests can drive them with `tokio::time::pause`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// What Redis said about a key hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `consumer` field (required).
    pub consumer: String,
    /// `tenant` field.
    pub tenant: Option<String>,
    /// `plan` field.
    pub plan: Option<String>,
    /// `roles` field, split on commas, trimmed, empties dropped; `None` when the field is absent.
    pub roles: Option<Vec<String>>,
    /// `expires_at` field (unix seconds).
    pub expires_at: Option<u64>,
}

/// One cached answer: the record (`None` = unknown key) and until when it is fresh.
#[derive(Debug, Clone)]
pub struct CachedLookup {
    /// The record, or `None` for a key Redis does not know.
    pub record: Option<Arc<KeyRecord>>,
    /// Fresh (usable without asking Redis) until this instant; kept after it for `serve_from_cache`.
    pub fresh_until: Instant,
}

impl CachedLookup {
    /// Whether the entry may be used without asking Redis at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.fresh_until
    }
}

/// Bounded cache of lookups keyed by the key's SHA-256 hex.
pub struct KeyCache {
    entries: quick_cache::sync::Cache<String, CachedLookup>,
    positive_ttl: Duration,
    negative_ttl: Duration,
}

impl KeyCache {
    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: u64, positive_ttl: Duration, negative_ttl: Duration) -> KeyCache {
        let capacity = usize::try_from(capacity.max(1)).unwrap_or(usize::MAX);
        KeyCache {
            entries: quick_cache::sync::Cache::new(capacity),
            positive_ttl,
            negative_ttl,
        }
    }

    /// The entry for `hash`, fresh or not.
    pub fn get(&self, hash: &str) -> Option<CachedLookup> {
        self.entries.get(hash)
    }

    /// Stores what Redis answered for `hash` at `now`: found records for the positive TTL, unknown
    /// keys for the negative TTL. A zero TTL stores an entry that is
    /// never fresh (only `serve_from_cache` uses it).
    pub fn store(&self, hash: &str, record: Option<Arc<KeyRecord>>, now: Instant) {
        let ttl = if record.is_some() {
            self.positive_ttl
        } else {
            self.negative_ttl
        };
        let entry = CachedLookup {
            record,
            fresh_until: now + ttl,
        };
        self.entries.insert(hash.to_owned(), entry);
    }

    /// Number of entries (fresh or stale).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
