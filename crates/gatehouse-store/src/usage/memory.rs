//! Usage rows in this process (`backend: memory`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{Deltas, HOUR, UsageQuery, UsageRow, UsageStore};
use crate::Error;
use crate::quota::WallClock;

/// Most rows kept in memory (about 100 bytes each plus the ids); beyond, the oldest hours go.
pub const MEMORY_MAX_ROWS: usize = 500_000;

/// (hour, consumer, route, class) → requests.
type Rows = BTreeMap<(u64, Arc<str>, Arc<str>, u8), u64>;

/// Hourly rows in process: kept for `retention` after their hour ended and at most `max_rows` of
/// them (the oldest hours are dropped first). Lost on restart.
pub struct MemoryUsage {
    rows: Mutex<Rows>,
    retention_secs: AtomicU64,
    max_rows: usize,
    clock: Arc<dyn WallClock>,
}

impl MemoryUsage {
    /// Rows kept for `retention` after their hour ended, at most `max_rows`, on `clock`.
    pub fn new(retention: Duration, max_rows: usize, clock: Arc<dyn WallClock>) -> Self {
        MemoryUsage {
            rows: Mutex::new(Rows::new()),
            retention_secs: AtomicU64::new(retention.as_secs()),
            max_rows: max_rows.max(1),
            clock,
        }
    }

    /// Changes the retention (applies at the next write).
    pub fn set_retention(&self, retention: Duration) {
        self.retention_secs
            .store(retention.as_secs(), Ordering::Relaxed);
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest hour still kept: an hour is kept while its end is less than `retention` ago
    /// (as with `EXPIREAT` in Redis).
    fn oldest_hour(&self) -> u64 {
        let retention = self.retention_secs.load(Ordering::Relaxed);
        self.clock.now_unix().saturating_sub(retention) / HOUR
    }

    fn lock(&self) -> MutexGuard<'_, Rows> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl UsageStore for MemoryUsage {
    async fn write(&self, deltas: &mut Deltas) -> Result<(), Error> {
        let oldest = self.oldest_hour();
        let mut rows = self.lock();
        for (k, n) in deltas.drain() {
            if k.hour >= oldest {
                *rows
                    .entry((k.hour, k.consumer, k.route, k.class))
                    .or_default() += n;
            }
        }
        let empty: Arc<str> = Arc::from("");
        *rows = rows.split_off(&(oldest, empty.clone(), empty, 0));
        while rows.len() > self.max_rows {
            rows.pop_first();
        }
        Ok(())
    }

    async fn read(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, Error> {
        let empty: Arc<str> = Arc::from("");
        let rows = self.lock();
        Ok(rows
            .range(
                (
                    query.from_hour.max(self.oldest_hour()),
                    empty.clone(),
                    empty,
                    0,
                )..,
            )
            .take_while(|((hour, ..), _)| *hour < query.to_hour)
            .filter(|((_, consumer, route, _), _)| query.matches(consumer, route))
            .map(|((hour, consumer, route, class), n)| UsageRow {
                hour: *hour,
                consumer: consumer.to_string(),
                route: route.to_string(),
                class: *class,
                requests: *n,
            })
            .collect())
    }
}
