//! Approximate mode for very hot keys: sliding-window decisions made in process from the last
//! known cluster-wide count, with each key's local count synced to Redis every `sync_interval`.
//!
//! Per counter key, the limiter keeps the sliding-window state of the key's **global view**:
//! the cluster-wide counts of the current and previous fixed windows as Redis last reported
//! them, plus what this instance counted since (not yet synced). A decision is the in-process
//! sliding-window arithmetic ([`crate::memory`]) on that view: no Redis round trip on the
//! request path. Windows are aligned to the Unix epoch on the gateway's wall clock (gateways'
//! clocks should agree to well within a window).
//!
//! Every `sync_interval`, one Lua script per batch of up to [`BATCH`] keys adds each key's local
//! delta to its window's count in Redis and reads back the cluster-wide counts of the current and
//! previous windows, which replace the view (plus whatever was counted during the round trip).
//!
//! **Error bound.** With `N` instances, an instance only misses what the others counted since its
//! last sync, so per window at most `(N − 1) × r × (sync_interval + t)` requests are admitted
//! beyond the limit, `r` being the rate one instance admits for the key and `t` the sync's round
//! trip — and never more than `(N − 1) × requests`. It never admits fewer than the limit because
//! of syncing (the view never overcounts). Token-bucket limits are not approximated: they go to
//! the exact limiter. A failing Redis only delays the sync (deltas are kept and retried); the
//! instances then count alone until it is back.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use gatehouse_config::model::{Algorithm, Limit};

use crate::clock::nanos;
use crate::memory::algo::Window;
use crate::{Decision, Error, RateLimiter};

/// Keys synced per script call.
pub const BATCH: usize = 256;

/// Shards of the key map.
const SHARDS: usize = 16;

/// Prefix of approximate-mode keys: `gatehouse:rla:{<counter key>}`, a hash of window index →
/// cluster-wide count.
pub const KEY_PREFIX: &str = "gatehouse:rla:";

/// For each key i: HINCRBY KEYS[i] <window> <delta> (when delta > 0, with PEXPIRE <ttl ms> and the
/// window before the previous one deleted), then the counts of <window> and <window − 1>.
/// ARGV = (window, delta, ttl ms) per key. Returns {current, previous} per key.
const SYNC: &str = r"
local out = {}
for i = 1, #KEYS do
  local w = tonumber(ARGV[3 * i - 2])
  local d = tonumber(ARGV[3 * i - 1])
  local cur
  if d > 0 then
    cur = redis.call('HINCRBY', KEYS[i], w, d)
    redis.call('PEXPIRE', KEYS[i], ARGV[3 * i])
    redis.call('HDEL', KEYS[i], w - 2)
  else
    cur = tonumber(redis.call('HGET', KEYS[i], w) or '0')
  end
  out[#out + 1] = cur
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[i], w - 1) or '0')
end
return out
";

/// One key's state.
#[derive(Debug, Clone, Copy)]
struct Entry {
    per: u64,
    limit: u64,
    /// The global view: cluster-wide counts + `unsynced` in `view.current`.
    view: Window,
    /// Counted here in `view.index`, not yet sent.
    unsynced: u64,
    /// Counted here in an earlier window, not yet sent: (window, count).
    pending: Option<(u64, u64)>,
}

/// One shard of the key map.
type Shard = HashMap<Box<str>, Entry>;

/// One key's share of a sync: (key, window, delta, ttl).
type SyncItem = (Box<str>, u64, u64, u64);

struct Shared {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    max_keys_per_shard: usize,
    manager: ConnectionManager,
    script: Script,
    sync_timeout: Duration,
    syncs: AtomicU64,
    failing: AtomicBool,
}

/// The approximate limiter: sliding-window limits decided locally and synced to Redis; token
/// buckets, and keys beyond `max_keys`, decided by `exact`.
pub struct ApproxLimiter {
    shared: Arc<Shared>,
    exact: Arc<dyn RateLimiter>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApproxLimiter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApproxLimiter {
    /// Tracks at most `max_keys` keys locally and syncs them every `sync_interval` over `manager`
    /// (one script call per [`BATCH`] keys, each bounded by `sync_interval`, at least 100 ms).
    /// Must be called within a Tokio runtime (the sync task is spawned there).
    pub fn new(
        manager: ConnectionManager,
        exact: Arc<dyn RateLimiter>,
        sync_interval: Duration,
        max_keys: usize,
    ) -> Self {
        let shared = Arc::new(Shared {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            max_keys_per_shard: max_keys.div_ceil(SHARDS).max(1),
            manager,
            script: Script::new(SYNC),
            sync_timeout: sync_interval.max(Duration::from_millis(100)),
            syncs: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        });
        let task = tokio::spawn(sync_loop(Arc::downgrade(&shared), sync_interval));
        ApproxLimiter {
            shared,
            exact,
            task,
        }
    }

    /// Completed sync rounds (for tests and metrics).
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Whether the last sync failed (Redis unreachable: instances count alone meanwhile).
    pub fn is_failing(&self) -> bool {
        self.shared.failing.load(Ordering::Relaxed)
    }

    /// Syncs every key now (tests; the sync task does this every `sync_interval`).
    pub async fn sync_now(&self) -> Result<(), Error> {
        self.shared.sync().await
    }

    /// The local decision; `None` when the key is not tracked and its shard is full.
    fn decide(&self, key: &str, limit: &Limit, cost: u64) -> Option<Decision> {
        let now = unix_nanos();
        let per = nanos(limit.per).max(1);
        let mut shard = self.shared.shard(key);
        if !shard.contains_key(key) {
            if shard.len() >= self.shared.max_keys_per_shard {
                shard.retain(|_, e| {
                    e.unsynced > 0 || e.pending.is_some() || e.view.index + 1 >= now / e.per
                });
                if shard.len() >= self.shared.max_keys_per_shard {
                    return None;
                }
            }
            let fresh = Entry {
                per,
                limit: limit.requests,
                view: Window::default(),
                unsynced: 0,
                pending: None,
            };
            shard.insert(key.into(), fresh);
        }
        let entry = shard.get_mut(key)?;
        let before = entry.view.index;
        let (outcome, view) = entry.view.check(now, per, limit.requests, cost);
        if view.index != before && entry.unsynced > 0 {
            // The unsynced count belongs to the window that just ended (an older pending count,
            // two windows back, no longer matters to any estimate).
            entry.pending = Some((before, entry.unsynced));
            entry.unsynced = 0;
        }
        entry.view = view;
        entry.per = per;
        entry.limit = limit.requests;
        if outcome.allowed {
            entry.unsynced += cost;
        }
        Some(Decision {
            allowed: outcome.allowed,
            limit: outcome.limit,
            remaining: outcome.remaining,
            reset_after: Duration::from_nanos(outcome.reset_after),
            retry_after: outcome.retry_after.map(Duration::from_nanos),
        })
    }
}

#[async_trait]
impl RateLimiter for ApproxLimiter {
    async fn check(&self, key: &str, limit: &Limit, cost: u64) -> Result<Decision, Error> {
        if limit.algorithm == Algorithm::SlidingWindow
            && let Some(decision) = self.decide(key, limit, cost)
        {
            return Ok(decision);
        }
        self.exact.check(key, limit, cost).await
    }
}

impl Shared {
    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes every key's deltas (and drops idle keys), sends them in batches, applies the replies.
    async fn sync(&self) -> Result<(), Error> {
        let now = unix_nanos();
        let mut items: Vec<SyncItem> = Vec::new();
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            map.retain(|key, e| {
                let current = now / e.per;
                if let Some((w, d)) = e.pending.take() {
                    items.push((key.clone(), w, d, ttl_ms(e.per)));
                }
                // Keys whose view is older than the previous window have nothing to refresh.
                if e.view.index + 1 < current && e.unsynced == 0 {
                    return false;
                }
                items.push((key.clone(), e.view.index, e.unsynced, ttl_ms(e.per)));
                e.unsynced = 0;
                true
            });
        }
        let mut result = Ok(());
        for batch in items.chunks(BATCH) {
            match self.send(batch).await {
                Ok(counts) => self.apply(batch, &counts),
                Err(e) => {
                    self.restore(batch);
                    result = Err(e);
                }
            }
        }
        self.failing.store(result.is_err(), Ordering::Relaxed);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        result
    }

    async fn send(&self, batch: &[SyncItem]) -> Result<Vec<i64>, Error> {
        let mut invocation = self.script.prepare_invoke();
        for (key, w, delta, ttl) in batch {
            invocation
                .key(format!("{KEY_PREFIX}{{{key}}}"))
                .arg(*w)
                .arg(*delta)
                .arg(*ttl);
        }
        let mut connection = self.manager.clone();
        let reply: Vec<i64> =
            tokio::time::timeout(self.sync_timeout, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| Error::Unavailable("redis: sync timed out".into()))?
                .map_err(|e| Error::Unavailable(format!("redis: {e}")))?;
        if reply.len() != batch.len() * 2 {
            return Err(Error::Unavailable("redis: unexpected sync reply".into()));
        }
        Ok(reply)
    }

    /// Replaces each key's view by the cluster-wide counts (plus what was counted meanwhile).
    fn apply(&self, batch: &[SyncItem], counts: &[i64]) {
        for ((key, w, _, _), pair) in batch.iter().zip(counts.chunks_exact(2)) {
            let (current, previous) = (count(pair[0]), count(pair[1]));
            let mut shard = self.shard(key);
            let Some(e) = shard.get_mut(key) else {
                continue;
            };
            if e.view.index == *w {
                e.view.current = current.saturating_add(e.unsynced);
                e.view.previous = previous;
            } else if e.view.index == w + 1 {
                let late = e.pending.filter(|(pw, _)| pw == w).map_or(0, |(_, d)| d);
                e.view.previous = current.saturating_add(late);
            }
        }
    }

    /// Puts the deltas of a failed batch back, to be sent with the next sync.
    fn restore(&self, batch: &[SyncItem]) {
        for (key, w, delta, _) in batch {
            if *delta == 0 {
                continue;
            }
            let mut shard = self.shard(key);
            let Some(e) = shard.get_mut(key) else {
                continue;
            };
            if e.view.index == *w {
                e.unsynced += delta;
            } else {
                let merged = e.pending.filter(|(pw, _)| pw == w).map_or(0, |(_, d)| d);
                e.pending = Some((*w, merged + delta));
            }
        }
    }
}

async fn sync_loop(shared: Weak<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once: a new limiter has nothing to sync yet. Skipping it also
    // keeps a late-scheduled first sync from racing the first decisions (a flaky test once).
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if let Err(error) = shared.sync().await {
            tracing::debug!(%error, "rate_limit approximate: sync failed, deltas kept");
        }
    }
}

/// TTL of a key's hash: two windows and a second.
fn ttl_ms(per_ns: u64) -> u64 {
    (per_ns / 1_000_000).saturating_mul(2).saturating_add(1_000)
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Wall-clock nanoseconds since the Unix epoch (windows are aligned to it on every instance).
fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, nanos)
}
