//! In-process storage: a moka cache bounded by the bytes of its records, each record expiring at
//! its own time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use gatehouse_metrics::Counter;
use http::HeaderName;
use moka::Expiry;
use moka::future::Cache;
use moka::notification::RemovalCause;

use super::Purge;
use crate::Entry;

#[derive(Clone)]
enum Record {
    Index(Arc<[HeaderName]>, Duration),
    Entry(Arc<Entry>, Duration),
}

impl Record {
    fn ttl(&self) -> Duration {
        match self {
            Record::Index(_, t) | Record::Entry(_, t) => *t,
        }
    }

    fn weight(&self, key: &str) -> u32 {
        let size = key.len()
            + match self {
                Record::Index(names, _) => names.iter().map(|n| n.as_str().len() + 16).sum(),
                Record::Entry(e, _) => e.weight(),
            };
        u32::try_from(size).unwrap_or(u32::MAX)
    }
}

struct PerRecordTtl;

impl Expiry<String, Record> for PerRecordTtl {
    fn expire_after_create(&self, _: &String, value: &Record, _: Instant) -> Option<Duration> {
        Some(value.ttl())
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &Record,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl())
    }
}

/// The in-process backend.
pub struct MemoryStore {
    cache: Cache<String, Record>,
    usage: Arc<Usage>,
}

/// Bytes and records held, kept by insertions and the removal listener (moka's own counts lag
/// until its maintenance runs).
#[derive(Default)]
struct Usage {
    bytes: AtomicI64,
    records: AtomicI64,
}

impl MemoryStore {
    /// A store holding at most `max_bytes`; evictions for size are counted in `evictions`.
    pub fn new(max_bytes: u64, evictions: Arc<Counter>) -> MemoryStore {
        let usage = Arc::new(Usage::default());
        let removed = usage.clone();
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Record| v.weight(k))
            .expire_after(PerRecordTtl)
            .eviction_listener(move |k: Arc<String>, v: Record, cause| {
                if cause == RemovalCause::Size {
                    evictions.inc();
                }
                removed
                    .bytes
                    .fetch_sub(i64::from(v.weight(&k)), Ordering::Relaxed);
                removed.records.fetch_sub(1, Ordering::Relaxed);
            })
            .build();
        MemoryStore { cache, usage }
    }

    pub(super) async fn index(&self, primary: &str) -> Option<Arc<[HeaderName]>> {
        match self.cache.get(primary).await? {
            Record::Index(names, _) => Some(names),
            Record::Entry(..) => None,
        }
    }

    pub(super) async fn entry(&self, variant: &str) -> Option<Arc<Entry>> {
        match self.cache.get(variant).await? {
            Record::Entry(e, _) => Some(e),
            Record::Index(..) => None,
        }
    }

    pub(super) async fn put(
        &self,
        primary: &str,
        vary: Arc<[HeaderName]>,
        variant: &str,
        entry: Arc<Entry>,
        ttl: Duration,
    ) {
        // The index lives as long as the longest-lived variant written since it was created.
        let index_ttl = match self.cache.get(primary).await {
            Some(Record::Index(names, old)) if names == vary => old.max(ttl),
            _ => ttl,
        };
        for (key, record) in [
            (primary, Record::Index(vary, index_ttl)),
            (variant, Record::Entry(entry, ttl)),
        ] {
            let weight = record.weight(key);
            self.usage
                .bytes
                .fetch_add(i64::from(weight), Ordering::Relaxed);
            self.usage.records.fetch_add(1, Ordering::Relaxed);
            self.cache.insert(key.to_owned(), record).await;
        }
    }

    /// Removes what `purge` names; returns how many entries (variants) went.
    pub(super) async fn purge(&self, purge: &Purge) -> u64 {
        let keys: Vec<Arc<String>> = self
            .cache
            .iter()
            .filter(|(k, _)| purge.matches(k))
            .map(|(k, _)| k)
            .collect();
        for key in &keys {
            self.cache.invalidate(key.as_str()).await;
        }
        keys.iter().filter(|k| k.contains('#')).count() as u64
    }

    /// Bytes held (as weighed) and number of records.
    pub fn usage(&self) -> (u64, u64) {
        let get = |v: &AtomicI64| u64::try_from(v.load(Ordering::Relaxed)).unwrap_or(0);
        (get(&self.usage.bytes), get(&self.usage.records))
    }
}
