//! Bulkheads: a concurrency limit with a bounded, time-limited wait queue.
//!
//! Used per cluster (`upstreams.<name>.bulkhead`, owned by the [`Cluster`](crate::Cluster)) and
//! per route (`routes[].bulkhead`, owned by the data plane). A request holds its
//! [`BulkheadPermit`] until its response body is finished.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use gatehouse_config::model::Bulkhead as BulkheadConfig;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A concurrency limit: `max_concurrent` requests at once, up to `max_queue` more waiting at most
/// `queue_timeout` each (first come, first served); everything beyond is refused at once.
#[derive(Debug)]
pub struct Bulkhead {
    cfg: BulkheadConfig,
    slots: Arc<Semaphore>,
    queued: AtomicU32,
    rejections: AtomicU64,
}

/// A slot of a [`Bulkhead`], given back when dropped.
#[derive(Debug)]
pub struct BulkheadPermit {
    _slot: OwnedSemaphorePermit,
}

/// Why a bulkhead refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkheadFull {
    /// Every slot was taken and the queue was full.
    QueueFull,
    /// The request waited `queue_timeout` without getting a slot.
    QueueTimeout,
}

impl Bulkhead {
    /// A bulkhead with every slot free.
    pub fn new(cfg: &BulkheadConfig) -> Self {
        let max = usize::try_from(cfg.max_concurrent.max(1)).unwrap_or(Semaphore::MAX_PERMITS);
        Bulkhead {
            cfg: cfg.clone(),
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            queued: AtomicU32::new(0),
            rejections: AtomicU64::new(0),
        }
    }

    /// Takes a slot: at once when one is free, else after waiting in the queue (when there is room
    /// in it) for at most `queue_timeout`.
    pub async fn acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(BulkheadPermit { _slot: slot });
        }
        let max_queue = self.cfg.max_queue;
        let joined = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q < max_queue).then_some(q + 1)
            });
        if joined.is_err() {
            return Err(self.reject(BulkheadFull::QueueFull));
        }
        let waited =
            tokio::time::timeout(self.cfg.queue_timeout, self.slots.clone().acquire_owned());
        let result = waited.await;
        self.queued.fetch_sub(1, Ordering::AcqRel);
        match result {
            Ok(Ok(slot)) => Ok(BulkheadPermit { _slot: slot }),
            // The semaphore is never closed; a closed one would mean no slot either.
            Ok(Err(_)) | Err(_) => Err(self.reject(BulkheadFull::QueueTimeout)),
        }
    }

    /// Slots taken now.
    pub fn in_use(&self) -> u64 {
        let max = u64::from(self.cfg.max_concurrent.max(1));
        max.saturating_sub(self.slots.available_permits() as u64)
    }

    /// Requests waiting for a slot now.
    pub fn queued(&self) -> u64 {
        u64::from(self.queued.load(Ordering::Acquire))
    }

    /// Requests refused so far.
    pub fn rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }

    /// How long a queued request may wait (a hint for `Retry-After`).
    pub fn queue_timeout(&self) -> Duration {
        self.cfg.queue_timeout
    }

    fn reject(&self, why: BulkheadFull) -> BulkheadFull {
        self.rejections.fetch_add(1, Ordering::Relaxed);
        why
    }
}
