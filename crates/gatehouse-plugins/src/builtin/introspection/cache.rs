//! Introspection results cached per token hash, with in-flight requests coalesced: while one
//! introspection of a token is running, every other request for the same token waits for its
//! result instead of asking the endpoint again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// SHA-256 of a token: the cache never holds raw tokens.
pub(super) type TokenKey = [u8; 32];

/// A fetch result: the value and how long to cache it (zero: do not cache), or why it failed
/// (failures are shared with the waiters of that flight but never cached).
type Fetched<V> = Result<(V, Duration), &'static str>;

enum Slot<V> {
    Ready { value: V, until: Instant },
    Pending(Arc<OnceCell<Fetched<V>>>),
}

/// A bounded map of token hash → cached result or in-flight introspection.
pub(super) struct TokenCache<V> {
    slots: Mutex<HashMap<TokenKey, Slot<V>>>,
    capacity: usize,
}

impl<V: Clone> TokenCache<V> {
    /// A cache of at most `capacity` results (in-flight entries come on top).
    pub(super) fn new(capacity: usize) -> Self {
        TokenCache {
            slots: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TokenKey, Slot<V>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value for `key`, or the result of the flight for `key` (started with `fetch`
    /// if none is running).
    pub(super) async fn get_or_fetch<F, Fut>(
        &self,
        key: TokenKey,
        fetch: F,
    ) -> Result<V, &'static str>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched<V>>,
    {
        let cell = {
            let mut slots = self.lock();
            match slots.get(&key) {
                Some(Slot::Ready { value, until }) if *until > Instant::now() => {
                    return Ok(value.clone());
                }
                Some(Slot::Pending(cell)) => cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    slots.insert(key, Slot::Pending(cell.clone()));
                    cell
                }
            }
        };
        let fetched = cell.get_or_init(fetch).await.clone();
        self.settle(key, &cell, &fetched);
        fetched.map(|(value, _)| value)
    }

    /// Replaces the flight's slot (if still there) with its cached result, or removes it.
    fn settle(&self, key: TokenKey, cell: &Arc<OnceCell<Fetched<V>>>, fetched: &Fetched<V>) {
        let mut slots = self.lock();
        let ours = matches!(slots.get(&key), Some(Slot::Pending(c)) if Arc::ptr_eq(c, cell));
        if !ours {
            return;
        }
        slots.remove(&key);
        if let Ok((value, ttl)) = fetched
            && !ttl.is_zero()
        {
            make_room(&mut slots, self.capacity);
            slots.insert(
                key,
                Slot::Ready {
                    value: value.clone(),
                    until: Instant::now() + *ttl,
                },
            );
        }
    }

    /// Number of entries (cached and in flight).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// At capacity: drop expired results; still at capacity: drop every cached result (in-flight
/// entries stay, so waiters still find their flight).
fn make_room<V>(slots: &mut HashMap<TokenKey, Slot<V>>, capacity: usize) {
    if slots.len() < capacity {
        return;
    }
    let now = Instant::now();
    slots.retain(|_, s| match s {
        Slot::Ready { until, .. } => *until > now,
        Slot::Pending(_) => true,
    });
    if slots.len() >= capacity {
        slots.retain(|_, s| matches!(s, Slot::Pending(_)));
    }
}
