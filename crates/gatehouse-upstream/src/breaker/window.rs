//! The rolling window of a breaker: request and failure counts in 10 buckets.
//!
//! Each bucket is one `u64` packing the bucket's epoch (24 bits), its request count (20 bits)
//! and its failure count (20 bits), updated with compare-and-swap: no lock, no lost update, and a
//! bucket left over from an earlier lap of the ring is recognised by its epoch and counted as
//! empty. Counts saturate at about a million per bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: u64 = 10;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const EPOCH_MASK: u64 = (1 << 24) - 1;

/// Request and failure counts over the last `window` (to within one bucket, a tenth of it).
#[derive(Debug)]
pub(super) struct Window {
    bucket_ms: u64,
    buckets: [AtomicU64; BUCKETS as usize],
}

fn pack(epoch: u64, total: u64, failures: u64) -> u64 {
    ((epoch & EPOCH_MASK) << (2 * COUNT_BITS)) | (total << COUNT_BITS) | failures
}

fn unpack(v: u64) -> (u64, u64, u64) {
    (
        v >> (2 * COUNT_BITS),
        (v >> COUNT_BITS) & COUNT_MAX,
        v & COUNT_MAX,
    )
}

impl Window {
    /// A window of `window`, at least 10 ms.
    pub(super) fn new(window: Duration) -> Self {
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        Window {
            bucket_ms: (ms / BUCKETS).max(1),
            buckets: Default::default(),
        }
    }

    /// Counts one request at `now_ms`.
    pub(super) fn record(&self, now_ms: u64, failed: bool) {
        let epoch = now_ms / self.bucket_ms;
        let tag = epoch & EPOCH_MASK;
        let slot = &self.buckets[(epoch % BUCKETS) as usize];
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
            let (t, total, failures) = unpack(v);
            let (total, failures) = if t == tag { (total, failures) } else { (0, 0) };
            Some(pack(
                tag,
                (total + 1).min(COUNT_MAX),
                (failures + u64::from(failed)).min(COUNT_MAX),
            ))
        });
    }

    /// `(requests, failures)` in the buckets of the last `window` up to `now_ms`.
    pub(super) fn counts(&self, now_ms: u64) -> (u64, u64) {
        let epoch = now_ms / self.bucket_ms;
        let mut sums = (0, 0);
        for back in 0..BUCKETS.min(epoch + 1) {
            let e = epoch - back;
            let (t, total, failures) =
                unpack(self.buckets[(e % BUCKETS) as usize].load(Ordering::Acquire));
            if t == e & EPOCH_MASK {
                sums.0 += total;
                sums.1 += failures;
            }
        }
        sums
    }

    /// Forgets everything.
    pub(super) fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Release);
        }
    }
}
