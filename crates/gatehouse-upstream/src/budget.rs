//! The retry budget of a cluster: over a rolling window, retries may not exceed
//! `ratio` × requests + `min_retries`, so that a failing upstream is not hit by a retry storm.
//!
//! Lock-free: the window is split into [`SLOTS`] time slots, each with atomic request and retry
//! counts and the slot's epoch; a slot whose epoch is stale is reset by the first caller that
//! sees it. Under contention a few counts may land in a slot being reset: the budget is a bound
//! on storms, not an exact ledger.

use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_config::model::RetryBudget as Settings;
use tokio::time::Instant;

#[cfg(test)]
mod tests;

/// Time slots per window.
pub const SLOTS: usize = 10;

/// A per-cluster retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    settings: Settings,
    start: Instant,
    slot_nanos: u64,
    slots: [Slot; SLOTS],
}

#[derive(Debug, Default)]
struct Slot {
    epoch: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl RetryBudget {
    /// A budget with an empty window, starting now.
    pub fn new(settings: &Settings) -> RetryBudget {
        let slot_nanos = (settings.window.as_nanos() / SLOTS as u128).max(1);
        RetryBudget {
            settings: settings.clone(),
            start: Instant::now(),
            slot_nanos: u64::try_from(slot_nanos).unwrap_or(u64::MAX),
            slots: Default::default(),
        }
    }

    /// Counts a request (its first try).
    pub fn request(&self) {
        self.current().requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget: `true` (and counted) when the window's retries stay
    /// within `ratio` × requests + `min_retries`.
    pub fn try_retry(&self) -> bool {
        let now = self.epoch();
        let (requests, retries) = self.totals(now);
        let allowed = self.settings.ratio * requests as f64 + f64::from(self.settings.min_retries);
        if (retries as f64) + 1.0 > allowed {
            return false;
        }
        self.slot(now).retries.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Requests and retries counted in the current window.
    pub fn totals(&self, now: u64) -> (u64, u64) {
        let oldest = now.saturating_sub(SLOTS as u64 - 1);
        let mut totals = (0, 0);
        for slot in &self.slots {
            let epoch = slot.epoch.load(Ordering::Acquire);
            if epoch >= oldest && epoch <= now {
                totals.0 += slot.requests.load(Ordering::Relaxed);
                totals.1 += slot.retries.load(Ordering::Relaxed);
            }
        }
        totals
    }

    /// The current slot epoch (slots since the budget was created).
    pub fn epoch(&self) -> u64 {
        let elapsed = self.start.elapsed().as_nanos() / u128::from(self.slot_nanos);
        u64::try_from(elapsed).unwrap_or(u64::MAX)
    }

    fn current(&self) -> &Slot {
        self.slot(self.epoch())
    }

    fn slot(&self, epoch: u64) -> &Slot {
        let slot = &self.slots[(epoch % SLOTS as u64) as usize];
        let seen = slot.epoch.load(Ordering::Acquire);
        if seen != epoch
            && slot
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.requests.store(0, Ordering::Relaxed);
            slot.retries.store(0, Ordering::Relaxed);
        }
        slot
    }
}
