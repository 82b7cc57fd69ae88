//! The memory budget for request bodies held whole (retry replay buffers), `server.request_buffers`:
//! one counter for the gateway, one per client connection. A body grows its hold chunk by chunk;
//! when either cap would be passed the hold fails and the body is streamed instead (sent once,
//! without retries). Whatever a hold has taken is given back when it is dropped, with the body.
//!
//! Without it, clients that open many HTTP/2 streams with large declared bodies, send a little
//! of each within the flow-control window and never finish, make the gateway hold every partial
//! body until the read timeout: 100 connections × 100 streams × 60 KB is 600 MB.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_config::model::RequestBuffers;

/// The bytes held on one connection, or in the whole gateway.
#[derive(Debug, Default)]
pub(crate) struct Held(AtomicU64);

impl Held {
    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Adds `n` unless that passes `cap`.
    fn try_add(&self, n: u64, cap: u64) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(n).filter(|&after| after <= cap)
            })
            .is_ok()
    }

    fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::AcqRel);
    }
}

/// What one request body holds against the gateway's and its connection's counters.
pub(crate) struct Hold {
    gateway: Arc<Held>,
    connection: Arc<Held>,
    caps: RequestBuffers,
    bytes: u64,
}

impl Hold {
    /// An empty hold on `gateway` and `connection`, capped by `caps`.
    pub(crate) fn new(gateway: Arc<Held>, connection: Arc<Held>, caps: RequestBuffers) -> Hold {
        Hold {
            gateway,
            connection,
            caps,
            bytes: 0,
        }
    }

    /// Takes `n` more bytes; `false` (nothing taken) when either cap would be passed.
    pub(crate) fn try_grow(&mut self, n: u64) -> bool {
        if !self.connection.try_add(n, self.caps.per_connection) {
            return false;
        }
        if !self.gateway.try_add(n, self.caps.total) {
            self.connection.sub(n);
            return false;
        }
        self.bytes += n;
        true
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.connection.sub(self.bytes);
        self.gateway.sub(self.bytes);
    }
}

#[cfg(test)]
mod tests;
