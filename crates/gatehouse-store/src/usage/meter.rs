//! The in-process aggregate: recording on the hot path, flushing to a [`UsageStore`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Deltas, HOUR, RowKey, UsageQuery, UsageRow, UsageStore, status_class};
use crate::Error;
use crate::quota::WallClock;

/// The consumer label that series beyond `max_series` fold into.
pub const OTHER: &str = "__other__";

/// Most rows kept for a later flush while the store fails; beyond, the oldest hours are dropped
/// (and counted in [`UsageMeter::dropped`]).
pub const MAX_BACKLOG_ROWS: usize = 100_000;

/// Shards of the aggregate (a request locks one, for a hash-map update).
const SHARDS: usize = 16;

/// Counts of one consumer not yet flushed: (hour, route, class, requests).
type PendingRows = Vec<(u64, Arc<str>, u8, u64)>;
/// Cumulative counts of one consumer: (route, class, requests).
type TotalRows = Vec<(Arc<str>, u8, u64)>;

#[derive(Default)]
struct Shard {
    pending: HashMap<Arc<str>, PendingRows>,
    totals: HashMap<Arc<str>, TotalRows>,
}

/// One cumulative series (process-local, since start): consumer, route, class, requests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    /// Consumer id, or [`OTHER`] for folded series.
    pub consumer: Arc<str>,
    /// Route name.
    pub route: Arc<str>,
    /// Status class, 1–5.
    pub class: u8,
    /// Requests since start.
    pub requests: u64,
}

/// Usage counts of one gateway process: recorded per request, flushed to the store.
pub struct UsageMeter {
    shards: Box<[Mutex<Shard>]>,
    clock: Arc<dyn WallClock>,
    max_series: usize,
    series: AtomicUsize,
    overflow: AtomicU64,
    dropped: AtomicU64,
    failing: AtomicBool,
    /// Drained counts waiting to be written; the lock also serializes flushes.
    backlog: tokio::sync::Mutex<Deltas>,
    store: Arc<dyn UsageStore>,
}

impl std::fmt::Debug for UsageMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageMeter")
            .field("max_series", &self.max_series)
            .finish_non_exhaustive()
    }
}

impl UsageMeter {
    /// A meter writing to `store`, with at most `max_series` cumulative series (at least 1), on
    /// `clock` (UTC hours).
    pub fn new(store: Arc<dyn UsageStore>, max_series: usize, clock: Arc<dyn WallClock>) -> Self {
        UsageMeter {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            clock,
            max_series: max_series.max(1),
            series: AtomicUsize::new(0),
            overflow: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            backlog: tokio::sync::Mutex::new(Deltas::new()),
            store,
        }
    }

    /// Counts one request of `consumer` on `route` answered with `status`, in the current UTC
    /// hour. Statuses outside 100–599 are not counted. Locks one shard for a map update.
    pub fn record(&self, consumer: &str, route: &Arc<str>, status: u16) {
        let Some(class) = status_class(status) else {
            return;
        };
        let hour = self.clock.now_unix() / HOUR;
        let mut shard = self.shard(consumer);
        let shard = &mut *shard;
        // Reuse the consumer's `Arc` when it is known: no allocation once a consumer was seen.
        let key = shard
            .pending
            .get_key_value(consumer)
            .map(|(k, _)| k.clone())
            .or_else(|| shard.totals.get_key_value(consumer).map(|(k, _)| k.clone()))
            .unwrap_or_else(|| Arc::from(consumer));
        bump(
            shard.pending.entry(key.clone()).or_default(),
            hour,
            route,
            class,
        );
        self.count_series(shard, key, route, class);
    }

    fn count_series(&self, shard: &mut Shard, consumer: Arc<str>, route: &Arc<str>, class: u8) {
        if let Some(rows) = shard.totals.get_mut(&consumer)
            && let Some(row) = rows
                .iter_mut()
                .find(|(r, c, _)| *c == class && same(r, route))
        {
            row.2 += 1;
            return;
        }
        let key = if self.series.fetch_add(1, Ordering::Relaxed) < self.max_series {
            consumer
        } else {
            self.series.fetch_sub(1, Ordering::Relaxed);
            self.overflow.fetch_add(1, Ordering::Relaxed);
            Arc::from(OTHER)
        };
        let rows = shard.totals.entry(key).or_default();
        match rows
            .iter_mut()
            .find(|(r, c, _)| *c == class && same(r, route))
        {
            Some(row) => row.2 += 1,
            None => rows.push((route.clone(), class, 1)),
        }
    }

    /// Every cumulative series, folded ones summed under [`OTHER`], sorted.
    pub fn series(&self) -> Vec<Series> {
        let mut sums: HashMap<(Arc<str>, Arc<str>, u8), u64> = HashMap::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            for (consumer, rows) in &shard.totals {
                for (route, class, n) in rows {
                    *sums
                        .entry((consumer.clone(), route.clone(), *class))
                        .or_default() += n;
                }
            }
        }
        let mut out: Vec<Series> = sums
            .into_iter()
            .map(|((consumer, route, class), requests)| Series {
                consumer,
                route,
                class,
                requests,
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Requests counted under [`OTHER`] because `max_series` was reached.
    pub fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Requests dropped because the store failed for too long ([`MAX_BACKLOG_ROWS`]).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether the last flush failed.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Writes every count recorded so far to the store. On failure the counts are kept for the
    /// next flush (at most [`MAX_BACKLOG_ROWS`] rows). Logs once per change between working and
    /// failing.
    pub async fn flush(&self) -> Result<(), Error> {
        let mut backlog = self.backlog.lock().await;
        for shard in self.shards.iter() {
            let pending = std::mem::take(&mut lock(shard).pending);
            for (consumer, rows) in pending {
                for (hour, route, class, n) in rows {
                    let key = RowKey {
                        hour,
                        consumer: consumer.clone(),
                        route,
                        class,
                    };
                    *backlog.entry(key).or_default() += n;
                }
            }
        }
        if backlog.is_empty() {
            return Ok(());
        }
        let result = self.store.write(&mut backlog).await;
        match &result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("usage metering: store writable again, backlog flushed");
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, rows = backlog.len(), "usage metering: flush failed; counts kept for the next flush");
                }
                let dropped = trim_oldest(&mut backlog, MAX_BACKLOG_ROWS);
                if dropped > 0 {
                    self.dropped.fetch_add(dropped, Ordering::Relaxed);
                    tracing::warn!(
                        requests = dropped,
                        "usage metering: backlog full, oldest counts dropped"
                    );
                }
            }
        }
        result
    }

    /// Flushes, then reads `query` from the store (so that the answer includes every request
    /// this process finished so far).
    pub async fn read(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, Error> {
        self.flush().await?;
        self.store.read(query).await
    }

    fn shard(&self, consumer: &str) -> MutexGuard<'_, Shard> {
        // FNV-1a: cheap, and consumer ids are not attacker-chosen (they come from config/auth).
        let hash = consumer.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        lock(&self.shards[(hash % SHARDS as u64) as usize])
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

fn bump(rows: &mut PendingRows, hour: u64, route: &Arc<str>, class: u8) {
    match rows
        .iter_mut()
        .find(|(h, r, c, _)| *h == hour && *c == class && same(r, route))
    {
        Some(row) => row.3 += 1,
        None => rows.push((hour, route.clone(), class, 1)),
    }
}

/// Drops the oldest hours until at most `max` rows are left; returns the requests dropped.
fn trim_oldest(backlog: &mut Deltas, max: usize) -> u64 {
    let mut dropped = 0;
    while backlog.len() > max {
        let Some(oldest) = backlog.keys().map(|k| k.hour).min() else {
            break;
        };
        backlog.retain(|k, n| {
            let keep = k.hour != oldest;
            if !keep {
                dropped += *n;
            }
            keep
        });
    }
    dropped
}
