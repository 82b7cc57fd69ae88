//! Request coalescing: the first miss of a key goes upstream, later ones wait (bounded) for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// Keys with a request in flight. The lock is held for a map operation only, never across `.await`.
#[derive(Default)]
pub struct Flights {
    map: Mutex<HashMap<String, watch::Receiver<()>>>,
}

/// The outcome of [`Flights::join`].
pub enum Join {
    /// No request in flight: this one goes upstream; others wait until the guard is dropped.
    Leader(FlightGuard),
    /// Another request is in flight; wait with [`Follower::wait`].
    Follower(Follower),
}

/// Held by the request that fetches a key; dropping it (entry stored, or nothing to store)
/// releases the waiters.
pub struct FlightGuard {
    flights: Arc<Flights>,
    key: String,
    _done: watch::Sender<()>,
}

/// A request waiting for another one's response.
pub struct Follower {
    done: watch::Receiver<()>,
}

impl Flights {
    /// Joins the flight for `key`.
    pub fn join(self: &Arc<Self>, key: &str) -> Join {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = map.get(key) {
            return Join::Follower(Follower { done: rx.clone() });
        }
        let (tx, rx) = watch::channel(());
        map.insert(key.to_owned(), rx);
        Join::Leader(FlightGuard {
            flights: self.clone(),
            key: key.to_owned(),
            _done: tx,
        })
    }

    /// Keys in flight (tests, metrics).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Follower {
    /// Waits until the leader is done, at most `limit`. Returns whether it finished in time.
    pub async fn wait(mut self, limit: Duration) -> bool {
        // `changed` fails once the sender is dropped, which is how a leader signals "done".
        tokio::time::timeout(limit, async { while self.done.changed().await.is_ok() {} })
            .await
            .is_ok()
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&self.key);
    }
}

#[cfg(test)]
mod tests;
