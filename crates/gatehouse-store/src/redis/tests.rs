//! Against a real `redis-server` (skipped when it is not installed).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gatehouse_config::model::{Algorithm, Limit, RedisStore, StoreFailure};
use gatehouse_testkit::redis::spawn_redis;

use super::*;
use crate::ResilientLimiter;

fn store(url: String, timeout: Duration, on_failure: StoreFailure) -> RedisStore {
    RedisStore {
        url,
        timeout,
        connections: 2,
        on_failure,
        retry_after: Duration::from_millis(300),
    }
}

fn limit(requests: u64, per: Duration, algorithm: Algorithm, burst: Option<u64>) -> Limit {
    Limit {
        requests,
        per,
        algorithm,
        burst,
    }
}

/// Generous per-call timeout for the accuracy tests (a loaded CI machine, debug build).
const SLOW: Duration = Duration::from_secs(2);

/// 2 gateways × 50 tasks × 10 requests on one key; returns how many were allowed.
async fn hammer(url: &str, lim: &Limit) -> u64 {
    let gateways = [
        Arc::new(RedisLimiter::new(&store(url.into(), SLOW, StoreFailure::FailClosed)).unwrap()),
        Arc::new(RedisLimiter::new(&store(url.into(), SLOW, StoreFailure::FailClosed)).unwrap()),
    ];
    let allowed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let gateway = gateways[i % 2].clone();
        let allowed = allowed.clone();
        let lim = lim.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let d = gateway.check("tenant:acme", &lim, 1).await.unwrap();
                if d.allowed {
                    allowed.fetch_add(1, Ordering::SeqCst);
                } else {
                    assert!(d.retry_after.is_some());
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    allowed.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sliding_window_is_exact_across_two_gateways() {
    let Some(redis) = spawn_redis() else { return };
    // Start in the first half of a 10 s window (windows are aligned to the Unix epoch, and Redis
    // runs on this machine's clock), so the run does not straddle a boundary.
    let into = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 10_000;
    if into > 5_000 {
        tokio::time::sleep(Duration::from_millis((10_000 - into) as u64 + 50)).await;
    }
    let lim = limit(100, Duration::from_secs(10), Algorithm::SlidingWindow, None);
    assert_eq!(hammer(&redis.url(), &lim).await, 100);
    // The key has a TTL.
    let limiter = RedisLimiter::new(&store(redis.url(), SLOW, StoreFailure::FailClosed)).unwrap();
    let d = limiter.check("tenant:acme", &lim, 1).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(d.retry_after.unwrap() <= Duration::from_secs(20));
    assert!(d.reset_after > Duration::from_secs(10) && d.reset_after <= Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_bucket_stays_within_the_burst_across_two_gateways() {
    let Some(redis) = spawn_redis() else { return };
    // 100 per 10 s (one per 100 ms), burst 100.
    let lim = limit(100, Duration::from_secs(10), Algorithm::TokenBucket, None);
    let started = Instant::now();
    let allowed = hammer(&redis.url(), &lim).await;
    let elapsed = started.elapsed();
    // Documented bound: burst + elapsed / T.
    let bound = 100 + elapsed.as_millis() as u64 / 100 + 1;
    assert!(
        (100..=bound).contains(&allowed),
        "{allowed} allowed in {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_bucket_values() {
    let Some(redis) = spawn_redis() else { return };
    let limiter = RedisLimiter::new(&store(redis.url(), SLOW, StoreFailure::FailClosed)).unwrap();
    let lim = limit(1, Duration::from_secs(60), Algorithm::TokenBucket, Some(2));
    let first = limiter.check("k", &lim, 1).await.unwrap();
    assert!(first.allowed);
    assert_eq!((first.limit, first.remaining), (2, 1));
    assert_eq!(first.reset_after, Duration::from_secs(60));
    assert!(limiter.check("k", &lim, 1).await.unwrap().allowed);
    let refused = limiter.check("k", &lim, 1).await.unwrap();
    assert!(!refused.allowed);
    let retry = refused.retry_after.unwrap();
    assert!(
        retry > Duration::from_secs(59) && retry <= Duration::from_secs(60),
        "{retry:?}"
    );
    assert_eq!(refused.retry_after_secs(), Some(60));
}

/// Kills Redis mid-run and restarts it, for one `on_failure` mode.
async fn kill_and_restart(mode: StoreFailure) {
    let Some(mut redis) = spawn_redis() else {
        return;
    };
    let timeout = Duration::from_millis(50);
    let cfg = store(redis.url(), timeout, mode);
    let limiter = ResilientLimiter::redis(&cfg, 1000).unwrap();
    let lim = limit(3, Duration::from_secs(60), Algorithm::SlidingWindow, None);
    let bound = timeout * 5 + Duration::from_millis(100);
    let timed = |key: &'static str| {
        let limiter = &limiter;
        let lim = &lim;
        async move {
            let started = Instant::now();
            let result = limiter.check(key, lim, 1).await;
            let elapsed = started.elapsed();
            assert!(elapsed <= bound, "{mode:?}: a call took {elapsed:?}");
            result
        }
    };
    // Redis up: a real decision (warm up the connection with a generous first call).
    let warm = RedisLimiter::new(&store(redis.url(), SLOW, mode)).unwrap();
    warm.check("warm", &lim, 1).await.unwrap();
    assert!(limiter.check("a", &lim, 1).await.unwrap().allowed);

    redis.stop();
    let mut results = Vec::new();
    for _ in 0..6 {
        results.push(timed("a").await);
    }
    assert!(limiter.is_open());
    match mode {
        StoreFailure::FailOpen => assert!(results.iter().all(|r| r.as_ref().unwrap().allowed)),
        StoreFailure::FailClosed => {
            assert!(
                results
                    .iter()
                    .all(|r| matches!(r, Err(Error::Unavailable(_))))
            )
        }
        StoreFailure::Local => {
            // The local limiter starts from zero: 3 allowed, then refused.
            let allowed: Vec<bool> = results
                .iter()
                .map(|r| r.as_ref().unwrap().allowed)
                .collect();
            assert_eq!(allowed, [true, true, true, false, false, false]);
        }
    }

    redis.restart();
    // Within a few retry_after periods the probe succeeds and Redis decides again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(cfg.retry_after).await;
        let _ = timed("probe").await;
        if !limiter.is_open() {
            break;
        }
        assert!(Instant::now() < deadline, "{mode:?}: circuit never closed");
    }
    // A fresh Redis: the limits resume from its (empty) state, exactly.
    let allowed: Vec<bool> = [
        timed("b").await.unwrap().allowed,
        timed("b").await.unwrap().allowed,
        timed("b").await.unwrap().allowed,
        timed("b").await.unwrap().allowed,
    ]
    .to_vec();
    assert_eq!(allowed, [true, true, true, false]);
    assert!(!limiter.is_open());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fail_open() {
    kill_and_restart(StoreFailure::FailOpen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fail_closed() {
    kill_and_restart(StoreFailure::FailClosed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_local() {
    kill_and_restart(StoreFailure::Local).await;
}
