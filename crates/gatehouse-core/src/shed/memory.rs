//! The process's resident memory, sampled from `/proc/self/statm` every 100 ms by a background
//! task (requests only read an atomic), less what the allocator kept while the gateway was idle.
//!
//! An allocator may keep memory freed by many threads for reuse (glibc's arenas do, for good): after
//! a burst (thousands of HTTP/2 streams) the resident set stays up although the gateway holds
//! nothing, and shedding on it alone refused every request long after the burst was gone (the
//! `gatehouse` binary's jemalloc returns it within seconds, but the core makes no assumption). So each sample taken with no request in
//! flight records the resident set as *quiescent*, and the figure compared with `max_memory` is
//! the baseline (the first sample) plus the growth since the last quiescent sample: memory the
//! gateway is using for the work in flight, not memory the allocator will hand out again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::ShedCounts;

/// How often the resident set is read.
pub(super) const INTERVAL: Duration = Duration::from_millis(100);

/// The last resident-set sample; its task stops when this is dropped.
pub(super) struct Sampler {
    bytes: Arc<AtomicU64>,
    pub(super) task: AbortHandle,
}

impl Sampler {
    /// Takes a first sample now and starts the sampling task on the current runtime; `counts`
    /// tells it when nothing is in flight.
    pub(super) fn start(counts: Arc<ShedCounts>) -> Result<Sampler, &'static str> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "memory sampling needs a running tokio runtime")?;
        let baseline = resident_bytes().unwrap_or(0);
        let bytes = Arc::new(AtomicU64::new(baseline));
        let weak = Arc::downgrade(&bytes);
        let task = runtime.spawn(async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut quiescent = baseline;
            loop {
                tick.tick().await;
                let Some(bytes) = weak.upgrade() else {
                    return;
                };
                if let Some(now) = resident_bytes() {
                    if counts.in_flight.load(Ordering::Acquire) == 0 {
                        quiescent = now;
                    }
                    bytes.store(in_use(baseline, quiescent, now), Ordering::Relaxed);
                }
            }
        });
        Ok(Sampler {
            bytes,
            task: task.abort_handle(),
        })
    }

    /// The memory in use by the last sample, in bytes: the baseline plus the growth since the last
    /// quiescent sample (0 where `/proc` is unavailable: never shed for memory).
    pub(super) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Memory in use: `baseline` (the resident set when sampling started) plus what the resident set
/// `now` has grown since the last sample with nothing in flight (`quiescent`).
pub(super) fn in_use(baseline: u64, quiescent: u64, now: u64) -> u64 {
    baseline.saturating_add(now.saturating_sub(quiescent))
}

/// Resident set size in bytes: `/proc/self/statm`'s second field times the page size.
pub(super) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(page_size())
}

/// The page size from the auxiliary vector (`AT_PAGESZ`), 4 KiB when it cannot be read.
fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        const AT_PAGESZ: u64 = 6;
        let word = std::mem::size_of::<usize>();
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        let read = |chunk: &[u8]| -> u64 {
            let mut buf = [0u8; 8];
            let n = chunk.len().min(8);
            if cfg!(target_endian = "little") {
                buf[..n].copy_from_slice(&chunk[..n]);
                u64::from_le_bytes(buf)
            } else {
                buf[8 - n..].copy_from_slice(&chunk[..n]);
                u64::from_be_bytes(buf)
            }
        };
        auxv.chunks_exact(2 * word)
            .find(|pair| read(&pair[..word]) == AT_PAGESZ)
            .map(|pair| read(&pair[word..]))
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096)
    })
}
