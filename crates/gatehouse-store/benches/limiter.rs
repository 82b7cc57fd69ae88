//! The local rate-limit decision: a hit on an existing key and a new key, for both algorithms.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_config::model::{Algorithm, Limit};
use gatehouse_store::MemoryLimiter;

fn limit(algorithm: Algorithm) -> Limit {
    Limit {
        requests: u64::MAX / 4,
        per: Duration::from_secs(60),
        algorithm,
        burst: None,
    }
}

fn bench(c: &mut Criterion) {
    for (name, algorithm) in [
        ("gcra", Algorithm::TokenBucket),
        ("sliding_window", Algorithm::SlidingWindow),
    ] {
        let limit = limit(algorithm);
        let limiter = MemoryLimiter::new(100_000);
        limiter.decide("client:192.0.2.1", &limit, 1);
        c.bench_function(&format!("memory/{name}/existing_key"), |b| {
            b.iter(|| black_box(limiter.decide(black_box("client:192.0.2.1"), &limit, 1)))
        });
        let keys: Vec<String> = (0..1_000_000).map(|i| format!("client:{i}")).collect();
        let mut next = 0usize;
        c.bench_function(&format!("memory/{name}/new_key"), |b| {
            b.iter(|| {
                next = (next + 1) % keys.len();
                black_box(limiter.decide(&keys[next], &limit, 1))
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
