//! In-process quota counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{QuotaCounter, RollingOutcome, RollingWindow, SystemWallClock, WallClock};
use crate::Error;

/// A rolling quota's layout and its (bucket, count) list.
type Rolling = (RollingWindow, Vec<(u64, u64)>);

/// Quota counters in process, at most `max_keys` of them. A counter is dropped once its period
/// has ended; when the map is full, expired counters are dropped first, then the one whose period
/// ends soonest.
///
/// Rolling quotas are kept apart, at most `max_keys` of them too: each a short list of
/// (bucket, count); when full, those fully restored are dropped first, then the one restored
/// soonest.
pub struct MemoryQuota {
    counters: Mutex<HashMap<String, (u64, u64)>>,
    rolling: Mutex<HashMap<String, Rolling>>,
    max_keys: usize,
    clock: Arc<dyn WallClock>,
}

impl std::fmt::Debug for MemoryQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQuota")
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

impl MemoryQuota {
    /// Counters on the system clock.
    pub fn new(max_keys: usize) -> Self {
        Self::with_clock(max_keys, Arc::new(SystemWallClock))
    }

    /// Counters on `clock`.
    pub fn with_clock(max_keys: usize, clock: Arc<dyn WallClock>) -> Self {
        MemoryQuota {
            counters: Mutex::new(HashMap::new()),
            rolling: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(1),
            clock,
        }
    }

    /// Counters currently held (including expired ones not yet dropped).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, u64)>> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl QuotaCounter for MemoryQuota {
    async fn add(&self, key: &str, period_end_unix: u64, cost: u64) -> Result<u64, Error> {
        self.try_add(key, period_end_unix, cost, u64::MAX)
            .await
            .map(|(_, count)| count)
    }

    async fn try_add(
        &self,
        key: &str,
        period_end_unix: u64,
        cost: u64,
        limit: u64,
    ) -> Result<(bool, u64), Error> {
        let now = self.clock.now_unix();
        let mut map = self.lock();
        if let Some((end, count)) = map.get_mut(key) {
            if *end > now {
                let after = count.saturating_add(cost);
                if after > limit {
                    return Ok((false, *count));
                }
                *count = after;
                return Ok((true, after));
            }
            map.remove(key);
        }
        if cost > limit {
            return Ok((false, 0));
        }
        if map.len() >= self.max_keys {
            map.retain(|_, (end, _)| *end > now);
        }
        if map.len() >= self.max_keys {
            let soonest = map
                .iter()
                .min_by_key(|(_, (end, _))| *end)
                .map(|(k, _)| k.clone());
            if let Some(k) = soonest {
                map.remove(&k);
            }
        }
        map.insert(key.to_owned(), (period_end_unix, cost));
        Ok((true, cost))
    }

    async fn get(&self, key: &str) -> Result<u64, Error> {
        let now = self.clock.now_unix();
        Ok(self
            .lock()
            .get(key)
            .filter(|(end, _)| *end > now)
            .map_or(0, |(_, count)| *count))
    }

    async fn try_add_rolling(
        &self,
        key: &str,
        window: RollingWindow,
        now_unix: u64,
        cost: u64,
        limit: u64,
    ) -> Result<RollingOutcome, Error> {
        let oldest = window.oldest(now_unix);
        let mut map = self.rolling.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buckets = map.remove(key).map(|(_, b)| b).unwrap_or_default();
        buckets.retain(|(b, _)| *b >= oldest);
        let used: u64 = buckets.iter().map(|(_, c)| *c).sum();
        let added = cost > 0 && used.saturating_add(cost) <= limit;
        if added {
            let current = window.bucket(now_unix);
            super::rolling::add_to(&mut buckets, current, cost);
        }
        let outcome =
            RollingOutcome::new(&window, &buckets, now_unix, added || cost == 0, cost, limit);
        if !buckets.is_empty() {
            if map.len() >= self.max_keys {
                map.retain(|_, (w, b)| w.restored_at(b).is_some_and(|at| at > now_unix));
            }
            if map.len() >= self.max_keys {
                let soonest = map
                    .iter()
                    .min_by_key(|(_, (w, b))| w.restored_at(b))
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
            map.insert(key.to_owned(), (window, buckets));
        }
        Ok(outcome)
    }
}
