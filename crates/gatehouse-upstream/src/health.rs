//! Per-target health: the active-check state machine and passive ejection.
//!
//! All state is atomic, so the data plane reads it on every pick without locks. Races between
//! concurrent updates (two failures crossing the threshold together) can at worst log a
//! transition twice; they never lose the resulting state.

pub(crate) mod active;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use gatehouse_config::model::{HealthCheck, PassiveHealth};
use tokio::time::Instant;

/// Health of one target.
#[derive(Debug)]
pub(crate) struct Health {
    /// Reference point of `ejected_until_ms` (tokio's clock, so tests can pause time).
    base: Instant,
    active_healthy: AtomicBool,
    active_successes: AtomicU32,
    active_failures: AtomicU32,
    passive_failures: AtomicU32,
    /// Milliseconds after `base` until which the target is ejected; 0 = never ejected.
    ejected_until_ms: AtomicU64,
}

/// A change of the active state, for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The target became healthy.
    Healthy,
    /// The target became unhealthy.
    Unhealthy,
}

impl Health {
    /// A target starts healthy and not ejected.
    pub(crate) fn new() -> Self {
        Health {
            base: Instant::now(),
            active_healthy: AtomicBool::new(true),
            active_successes: AtomicU32::new(0),
            active_failures: AtomicU32::new(0),
            passive_failures: AtomicU32::new(0),
            ejected_until_ms: AtomicU64::new(0),
        }
    }

    /// Healthy for the active checks and not ejected.
    pub(crate) fn is_usable(&self) -> bool {
        self.is_active_healthy() && !self.is_ejected()
    }

    /// The active-check state (true when checks are off).
    pub(crate) fn is_active_healthy(&self) -> bool {
        self.active_healthy.load(Ordering::Relaxed)
    }

    /// Whether passive health currently ejects the target.
    pub(crate) fn is_ejected(&self) -> bool {
        self.now_ms() < self.ejected_until_ms.load(Ordering::Relaxed)
    }

    /// Records one active check; returns the state change it caused, if any.
    ///
    /// `healthy_threshold` consecutive successes make an unhealthy target healthy,
    /// `unhealthy_threshold` consecutive failures make a healthy target unhealthy; a result of the
    /// other kind resets the count.
    pub(crate) fn record_active(&self, ok: bool, hc: &HealthCheck) -> Option<Transition> {
        if ok {
            self.active_failures.store(0, Ordering::Relaxed);
            let successes = self.active_successes.fetch_add(1, Ordering::Relaxed) + 1;
            if successes >= hc.healthy_threshold.max(1)
                && !self.active_healthy.swap(true, Ordering::Relaxed)
            {
                return Some(Transition::Healthy);
            }
        } else {
            self.active_successes.store(0, Ordering::Relaxed);
            let failures = self.active_failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures >= hc.unhealthy_threshold.max(1)
                && self.active_healthy.swap(false, Ordering::Relaxed)
            {
                return Some(Transition::Unhealthy);
            }
        }
        None
    }

    /// Records the outcome of one proxied request; returns true when this failure ejected the
    /// target.
    ///
    /// `consecutive_failures` failures in a row eject the target for `ejection_time`; any success
    /// resets the count. The count restarts at 0 on ejection, so a target back from ejection needs
    /// the full count of new failures to be ejected again.
    pub(crate) fn record_passive(&self, ok: bool, passive: &PassiveHealth) -> bool {
        if ok {
            // Avoid dirtying the cache line on the hot path when there is nothing to reset.
            if self.passive_failures.load(Ordering::Relaxed) != 0 {
                self.passive_failures.store(0, Ordering::Relaxed);
            }
            return false;
        }
        let failures = self.passive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures < passive.consecutive_failures.max(1) {
            return false;
        }
        self.passive_failures.store(0, Ordering::Relaxed);
        let until = self.now_ms().saturating_add(millis(passive.ejection_time));
        self.ejected_until_ms.store(until, Ordering::Relaxed);
        true
    }

    fn now_ms(&self) -> u64 {
        millis(self.base.elapsed())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
