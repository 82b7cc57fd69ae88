//! One target of a cluster at run time.

use std::sync::atomic::{AtomicU64, Ordering};

use http::uri::Authority;

use crate::health::Health;

/// A target's address, weight, health and in-flight count, shared by the cluster, its health
/// checker and the [`Selected`](crate::Selected) guards.
#[derive(Debug)]
pub(crate) struct TargetState {
    pub(crate) address: String,
    pub(crate) authority: Authority,
    pub(crate) weight: u32,
    pub(crate) health: Health,
    in_flight: AtomicU64,
}

impl TargetState {
    pub(crate) fn new(address: String, authority: Authority, weight: u32) -> Self {
        TargetState {
            address,
            authority,
            weight,
            health: Health::new(),
            in_flight: AtomicU64::new(0),
        }
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
