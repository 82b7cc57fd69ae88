//! Counters, gauges and fixed-bucket histograms on atomics.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets in seconds: sub-millisecond to 60 s, dense enough around typical API
/// latencies for `histogram_quantile` to give useful p50/p95/p99.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (in-flight requests, open connections).
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Self {
        Gauge(AtomicI64::new(0))
    }

    /// Adds `n` (may be negative).
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A histogram with fixed upper bounds; observations are counted in the first bucket whose
/// bound is ≥ the value (cumulated at exposition time).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus the `+Inf` overflow bucket.
    buckets: Box<[AtomicU64]>,
    /// Sum of observations in nanounits (nanoseconds for latencies), to stay an integer atomic.
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// A histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// A histogram over [`LATENCY_BUCKETS`].
    pub fn latency() -> Self {
        Histogram::new(LATENCY_BUCKETS)
    }

    /// Records a duration (in seconds for the bounds).
    pub fn observe_duration(&self, d: Duration) {
        let secs = d.as_secs_f64();
        self.bucket_for(secs).fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Records a plain value (bytes, counts).
    pub fn observe(&self, value: f64) {
        self.bucket_for(value).fetch_add(1, Ordering::Relaxed);
        let nanos = (value.max(0.0) * 1e9) as u64;
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn bucket_for(&self, value: f64) -> &AtomicU64 {
        let i = self.bounds.partition_point(|b| *b < value);
        &self.buckets[i.min(self.bounds.len())]
    }

    /// The bucket bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Cumulative counts per bound, then the total count (the `+Inf` bucket), and the sum.
    pub fn snapshot(&self) -> (Vec<u64>, u64, f64) {
        let mut cumulative = Vec::with_capacity(self.bounds.len());
        let mut running = 0u64;
        for b in self.buckets.iter().take(self.bounds.len()) {
            running += b.load(Ordering::Relaxed);
            cumulative.push(running);
        }
        let total = running + self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (cumulative, total, sum)
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// An estimate of the `q` quantile (0–1) by linear interpolation inside the bucket, as
    /// Prometheus' `histogram_quantile` does. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let (cumulative, total, _) = self.snapshot();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut lower_bound = 0.0;
        let mut lower_count = 0u64;
        for (bound, count) in self.bounds.iter().zip(&cumulative) {
            if *count as f64 >= rank {
                let in_bucket = (*count - lower_count) as f64;
                if in_bucket == 0.0 {
                    return Some(*bound);
                }
                let frac = (rank - lower_count as f64) / in_bucket;
                return Some(lower_bound + (bound - lower_bound) * frac);
            }
            lower_bound = *bound;
            lower_count = *count;
        }
        self.bounds.last().copied()
    }
}
