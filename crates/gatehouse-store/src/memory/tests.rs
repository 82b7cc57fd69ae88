use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{Algorithm, Limit};

use super::*;
use crate::ManualClock;

fn limit(requests: u64, per: Duration, algorithm: Algorithm, burst: Option<u64>) -> Limit {
    Limit {
        requests,
        per,
        algorithm,
        burst,
    }
}

fn limiter(max_keys: usize) -> (MemoryLimiter<Arc<ManualClock>>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    // Start far from zero so that window indexes and TATs are not special.
    clock.set(Duration::from_secs(1_000_000));
    (MemoryLimiter::with_clock(max_keys, clock.clone()), clock)
}

fn allowed(l: &MemoryLimiter<Arc<ManualClock>>, key: &str, limit: &Limit, n: usize) -> usize {
    (0..n).filter(|_| l.decide(key, limit, 1).allowed).count()
}

#[test]
fn gcra_burst_then_steady_rate() {
    let (l, clock) = limiter(1000);
    // 10/s with a burst of 20: 20 at once, then one every 100 ms.
    let lim = limit(10, Duration::from_secs(1), Algorithm::TokenBucket, Some(20));
    assert_eq!(allowed(&l, "k", &lim, 50), 20);
    let refused = l.decide("k", &lim, 1);
    assert!(!refused.allowed);
    assert_eq!(refused.limit, 20);
    assert_eq!(refused.remaining, 0);
    assert_eq!(refused.retry_after, Some(Duration::from_millis(100)));
    assert_eq!(refused.retry_after_secs(), Some(1));
    assert_eq!(refused.reset_after, Duration::from_secs(2));
    clock.advance(Duration::from_millis(99));
    assert!(!l.decide("k", &lim, 1).allowed);
    clock.advance(Duration::from_millis(1));
    assert!(l.decide("k", &lim, 1).allowed);
    assert!(!l.decide("k", &lim, 1).allowed);
    // Steady: over 10 s at 100 ms spacing, exactly one per step.
    let mut total = 0;
    for _ in 0..100 {
        clock.advance(Duration::from_millis(100));
        total += allowed(&l, "k", &lim, 5);
    }
    assert_eq!(total, 100);
    // After 2 s idle the bucket is full again: 20 at once.
    clock.advance(Duration::from_secs(2));
    assert_eq!(allowed(&l, "k", &lim, 50), 20);
}

#[test]
fn gcra_default_burst_and_remaining() {
    let (l, clock) = limiter(1000);
    let lim = limit(5, Duration::from_secs(10), Algorithm::TokenBucket, None);
    let first = l.decide("k", &lim, 1);
    assert!(first.allowed);
    assert_eq!((first.limit, first.remaining), (5, 4));
    assert_eq!(first.reset_after, Duration::from_secs(2));
    assert_eq!(allowed(&l, "k", &lim, 10), 4);
    let refused = l.decide("k", &lim, 1);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(2)));
    assert_eq!(refused.reset_after, Duration::from_secs(10));
    clock.advance(Duration::from_millis(2500));
    let d = l.decide("k", &lim, 1);
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    let refused = l.decide("k", &lim, 1);
    assert_eq!(refused.retry_after, Some(Duration::from_millis(1500)));
    assert_eq!(refused.retry_after_secs(), Some(2));
}

#[test]
fn sliding_window_never_double_bursts_at_the_boundary() {
    let (l, clock) = limiter(1000);
    let lim = limit(100, Duration::from_secs(10), Algorithm::SlidingWindow, None);
    // Align to 1 ms before a window boundary.
    let now = clock.now().as_millis() as u64;
    let to_boundary = 10_000 - now % 10_000;
    clock.advance(Duration::from_millis(to_boundary - 1));
    assert_eq!(allowed(&l, "k", &lim, 300), 100);
    // Just after the boundary (1 ms in): the previous 100 still weigh ceil(100 * 9999/10000)
    // = 100, so nothing more.
    clock.advance(Duration::from_millis(2));
    assert_eq!(allowed(&l, "k", &lim, 300), 0);
    // 1 s in: the previous window weighs 90, so exactly 10 more.
    clock.advance(Duration::from_millis(999));
    assert_eq!(allowed(&l, "k", &lim, 300), 10);
    // 5 s in: previous weighs 50, current holds 10: 40 more.
    clock.advance(Duration::from_secs(4));
    assert_eq!(allowed(&l, "k", &lim, 300), 40);
}

#[test]
fn sliding_window_retry_after_and_reset() {
    let (l, clock) = limiter(1000);
    let lim = limit(10, Duration::from_secs(10), Algorithm::SlidingWindow, None);
    let now = clock.now().as_millis() as u64;
    clock.advance(Duration::from_millis(10_000 - now % 10_000)); // start of a window
    clock.advance(Duration::from_secs(2));
    let first = l.decide("k", &lim, 1);
    assert_eq!((first.limit, first.remaining), (10, 9));
    // Full restore: 8 s to the boundary, then 10 s of decay.
    assert_eq!(first.reset_after, Duration::from_secs(18));
    assert_eq!(allowed(&l, "k", &lim, 20), 9);
    let refused = l.decide("k", &lim, 1);
    assert_eq!(refused.remaining, 0);
    // Next window: the 10 weigh ceil(10 * (10 - x) / 10) <= 9 from x = 1 s: 8 s + 1 s.
    assert_eq!(refused.retry_after, Some(Duration::from_secs(9)));
    clock.advance(Duration::from_millis(8999));
    assert!(!l.decide("k", &lim, 1).allowed);
    clock.advance(Duration::from_millis(1));
    assert!(l.decide("k", &lim, 1).allowed);
    assert!(!l.decide("k", &lim, 1).allowed);
}

#[test]
fn retry_after_secs_rounds_up() {
    let d = Decision {
        allowed: false,
        limit: 1,
        remaining: 0,
        reset_after: Duration::from_millis(1001),
        retry_after: Some(Duration::from_millis(1)),
    };
    assert_eq!(d.retry_after_secs(), Some(1));
    assert_eq!(d.reset_after_secs(), 2);
    let exact = Decision {
        retry_after: Some(Duration::from_secs(3)),
        ..d
    };
    assert_eq!(exact.retry_after_secs(), Some(3));
}

#[test]
fn restored_keys_are_dropped_before_active_ones() {
    let (l, clock) = limiter(100); // one shard of 100
    let lim = limit(1, Duration::from_secs(1), Algorithm::TokenBucket, None);
    for i in 0..100 {
        assert!(l.decide(&format!("old{i}"), &lim, 1).allowed);
    }
    clock.advance(Duration::from_secs(1)); // every old key is fully restored
    assert!(l.decide("active", &lim, 1).allowed);
    assert_eq!(l.len(), 1);
    assert_eq!(l.evictions(), 0);
    // The active key was not evicted: still refused.
    for i in 0..150 {
        l.decide(&format!("new{i}"), &lim, 1);
    }
    assert!(l.len() <= 100);
}

#[test]
fn eviction_bound_and_counter() {
    let (l, clock) = limiter(100);
    let lim = limit(1, Duration::from_secs(3600), Algorithm::SlidingWindow, None);
    for i in 0..1000 {
        clock.advance(Duration::from_millis(1));
        l.decide(&format!("k{i}"), &lim, 1);
        assert!(l.len() <= 100);
    }
    assert!(l.evictions() > 0);
    // The most recently touched key is still limited.
    assert!(!l.decide("k999", &lim, 1).allowed);
}

#[test]
fn a_million_keys_stay_bounded() {
    let (l, clock) = limiter(100_000);
    let lim = limit(10, Duration::from_secs(60), Algorithm::TokenBucket, None);
    let start = l.memory_estimate();
    for i in 0..1_000_000u32 {
        if i % 1000 == 0 {
            clock.advance(Duration::from_millis(1));
        }
        let ip = format!("198.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        l.decide(&ip, &lim, 1);
    }
    assert!(l.len() <= 100_000);
    let bytes = l.memory_estimate();
    // Tables are allocated once and never grow: the estimate grows only by the key bytes.
    let slot = std::mem::size_of::<(Box<str>, Entry)>() + 1;
    println!(
        "1,000,000 keys, max_keys 100,000: {} tracked, {} evicted, {} bytes ({} per slot, {} table bytes at start)",
        l.len(),
        l.evictions(),
        bytes,
        slot,
        start
    );
    // Documented bound: 12 MiB for 100,000 keys of up to 16 bytes (see docs/rate-limiting.md).
    assert!(bytes <= 12 << 20, "{bytes} bytes");
    assert!(bytes - start <= 100_000 * 32, "{bytes} - {start}");
}

#[tokio::test]
async fn the_trait_decides() {
    let l = MemoryLimiter::new(10);
    let lim = limit(2, Duration::from_secs(60), Algorithm::SlidingWindow, None);
    assert!(l.check("k", &lim, 1).await.unwrap().allowed);
    assert!(l.check("k", &lim, 1).await.unwrap().allowed);
    assert!(!l.check("k", &lim, 1).await.unwrap().allowed);
}
