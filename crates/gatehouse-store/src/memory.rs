//! The in-process limiter: sharded, lock-light and bounded.
//!
//! Keys live in [`SHARDS`] shards, each a `std::sync::Mutex<HashMap>` held only for the few
//! arithmetic operations of one decision (never across an `.await`: the check is synchronous).
//! At most `max_keys` keys are tracked (each shard holds at most `max_keys / shards` and is
//! allocated once at that size, so the map never reallocates). When a shard is full:
//!
//! 1. every key whose state is *fully restored* (GCRA: TAT ≤ now; sliding window: the estimate
//!    is zero) is dropped. This loses nothing: re-creating such a key gives exactly the state it
//!    had, so it never comes back with more allowance.
//! 2. only when that frees less than an eighth of the shard, the least recently touched keys
//!    are evicted until an eighth is free.
//!    Those keys come back with a full allowance: the error is at most one extra allowance
//!    (`burst` or `requests`) per eviction of an active key, and it only happens when more than
//!    `max_keys` keys are active within one period. [`MemoryLimiter::evictions`] counts them.

pub(crate) mod algo;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::{Algorithm, Limit};

use crate::clock::{Clock, SystemClock, nanos};
use crate::{Decision, Error, RateLimiter};
use algo::{Gcra, Outcome, Window};

/// Number of shards (when `max_keys` is at least this many).
pub const SHARDS: usize = 32;

/// A key's state.
#[derive(Debug, Clone, Copy)]
enum State {
    Gcra { tat: u64 },
    Window(Window),
}

/// One tracked key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    state: State,
    /// When the state is fully restored (a key idle from then on can be dropped for free).
    idle_at: u64,
    /// Last check (for least-recently-touched eviction).
    touched: u64,
}

type Shard = HashMap<Box<str>, Entry>;

/// In-process rate limiter (GCRA token bucket and sliding-window counter), bounded to
/// `max_keys` tracked keys. Per gateway instance: limits are not shared between instances.
pub struct MemoryLimiter<C: Clock = SystemClock> {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    clock: C,
    evictions: AtomicU64,
}

impl MemoryLimiter<SystemClock> {
    /// A limiter on the system clock tracking at most `max_keys` keys (at least 1).
    pub fn new(max_keys: usize) -> Self {
        Self::with_clock(max_keys, SystemClock::new())
    }
}

impl<C: Clock> MemoryLimiter<C> {
    /// A limiter on `clock` tracking at most `max_keys` keys (at least 1).
    pub fn with_clock(max_keys: usize, clock: C) -> Self {
        let max_keys = max_keys.max(1);
        let shards = if max_keys >= SHARDS * 8 { SHARDS } else { 1 };
        let per_shard = max_keys / shards;
        MemoryLimiter {
            shards: (0..shards)
                .map(|_| Mutex::new(HashMap::with_capacity(per_shard)))
                .collect(),
            per_shard,
            hasher: RandomState::new(),
            clock,
            evictions: AtomicU64::new(0),
        }
    }

    /// The synchronous decision behind [`RateLimiter::check`].
    pub fn decide(&self, key: &str, limit: &Limit, cost: u64) -> Decision {
        let now = nanos(self.clock.now());
        let per = nanos(limit.per);
        let index = self.shard_of(key);
        let mut shard = match self.shards[index].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let previous = shard.get(key).map(|entry| entry.state);
        let (outcome, state) = match limit.algorithm {
            Algorithm::TokenBucket => {
                let tat = match previous {
                    Some(State::Gcra { tat }) => tat,
                    _ => 0,
                };
                let (outcome, tat) =
                    Gcra::new(limit.requests, per, limit.burst).check(tat, now, cost);
                (outcome, State::Gcra { tat })
            }
            Algorithm::SlidingWindow => {
                let window = match previous {
                    Some(State::Window(window)) => window,
                    _ => Window::default(),
                };
                let (outcome, window) = window.check(now, per, limit.requests, cost);
                (outcome, State::Window(window))
            }
        };
        let entry = Entry {
            state,
            idle_at: now.saturating_add(outcome.reset_after),
            touched: now,
        };
        if let Some(slot) = shard.get_mut(key) {
            *slot = entry;
        } else if outcome.reset_after > 0 {
            // A key whose state is already fully restored needs no entry.
            if shard.len() >= self.per_shard {
                self.make_room(&mut shard, now);
            }
            shard.insert(key.into(), entry);
        }
        drop(shard);
        decision(outcome)
    }

    /// Keys tracked now (all shards).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys ever tracked at once (`max_keys` rounded down to a multiple of the shards).
    pub fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    /// Keys with unrestored state that were evicted because their shard was full (each may have
    /// been given back up to one full allowance).
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Estimated heap bytes: for every shard, the table's buckets (a power of two, 8/7 of its
    /// capacity; entry + 1 control byte each) plus each key's allocation (its bytes rounded up
    /// to 16, plus 16 of allocator overhead).
    pub fn memory_estimate(&self) -> usize {
        let slot = std::mem::size_of::<(Box<str>, Entry)>() + 1;
        self.shards
            .iter()
            .map(|s| {
                let shard = lock(s);
                let keys: usize = shard.keys().map(|k| k.len().div_ceil(16) * 16 + 16).sum();
                (shard.capacity() * 8 / 7).next_power_of_two() * slot + keys
            })
            .sum()
    }

    fn shard_of(&self, key: &str) -> usize {
        let hash = self.hasher.hash_one(key);
        // usize fits the modulo of a `usize` shard count.
        (hash % self.shards.len() as u64) as usize
    }

    /// Frees an eighth of a full shard: first every restored key, then (only if that is not
    /// enough) the least recently touched; then rebuilds the table at its original capacity so
    /// that deleted slots never make it grow.
    fn make_room(&self, shard: &mut Shard, now: u64) {
        let target = self.per_shard - (self.per_shard / 8).max(1);
        shard.retain(|_, entry| entry.idle_at > now);
        if shard.len() > target {
            let need = shard.len() - target;
            let mut touched: Vec<u64> = shard.values().map(|e| e.touched).collect();
            let (_, cutoff, _) = touched.select_nth_unstable(need - 1);
            let cutoff = *cutoff;
            let before = shard.len();
            shard.retain(|_, entry| entry.touched > cutoff);
            let evicted = before - shard.len();
            self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        }
        let mut fresh = HashMap::with_capacity(self.per_shard);
        fresh.extend(shard.drain());
        *shard = fresh;
    }
}

#[async_trait]
impl<C: Clock> RateLimiter for MemoryLimiter<C> {
    async fn check(&self, key: &str, limit: &Limit, cost: u64) -> Result<Decision, Error> {
        Ok(self.decide(key, limit, cost))
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    match shard.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn decision(outcome: Outcome) -> Decision {
    Decision {
        allowed: outcome.allowed,
        limit: outcome.limit,
        remaining: outcome.remaining,
        reset_after: Duration::from_nanos(outcome.reset_after),
        retry_after: outcome.retry_after.map(Duration::from_nanos),
    }
}
