use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::{Algorithm, Limit, StoreFailure};

use super::*;

/// A remote limiter that always allows, or fails when told to.
#[derive(Default)]
struct Fake {
    fail: AtomicBool,
    calls: AtomicUsize,
}

#[async_trait]
impl RateLimiter for Fake {
    async fn check(&self, _key: &str, limit: &Limit, _cost: u64) -> Result<Decision, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("down".into()));
        }
        Ok(Decision {
            allowed: true,
            limit: limit.requests,
            remaining: 42,
            reset_after: Duration::from_secs(1),
            retry_after: None,
        })
    }
}

fn limit(requests: u64) -> Limit {
    Limit {
        requests,
        per: Duration::from_secs(60),
        algorithm: Algorithm::SlidingWindow,
        burst: None,
    }
}

fn breaker(mode: StoreFailure) -> ResilientLimiter<Fake> {
    ResilientLimiter::new(Fake::default(), mode, Duration::from_secs(1), 100)
}

fn calls(l: &ResilientLimiter<Fake>) -> usize {
    l.inner().calls.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn opens_on_failure_probes_once_and_closes() {
    let l = breaker(StoreFailure::FailOpen);
    let lim = limit(10);
    assert_eq!(l.check("k", &lim, 1).await.unwrap().remaining, 42);
    assert!(!l.is_open());

    l.inner().fail.store(true, Ordering::SeqCst);
    assert!(l.check("k", &lim, 1).await.unwrap().allowed);
    assert!(l.is_open());
    assert_eq!(calls(&l), 2);
    // Open: no remote call for retry_after.
    for _ in 0..100 {
        assert!(l.check("k", &lim, 1).await.unwrap().allowed);
    }
    tokio::time::advance(Duration::from_millis(999)).await;
    l.check("k", &lim, 1).await.unwrap();
    assert_eq!(calls(&l), 2);
    // After retry_after: one probe, which fails: open again for retry_after.
    tokio::time::advance(Duration::from_millis(1)).await;
    l.check("k", &lim, 1).await.unwrap();
    assert_eq!(calls(&l), 3);
    l.check("k", &lim, 1).await.unwrap();
    assert_eq!(calls(&l), 3);
    assert_eq!(l.times_opened(), 1);
    // The store is back; the next probe closes the circuit.
    l.inner().fail.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(l.check("k", &lim, 1).await.unwrap().remaining, 42);
    assert!(!l.is_open());
    assert_eq!(l.check("k", &lim, 1).await.unwrap().remaining, 42);
    assert_eq!(calls(&l), 5);
}

#[tokio::test(start_paused = true)]
async fn a_lost_probe_is_replaced_after_retry_after() {
    let l = breaker(StoreFailure::FailOpen);
    let lim = limit(10);
    l.inner().fail.store(true, Ordering::SeqCst);
    l.check("k", &lim, 1).await.unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    // Simulate a probe whose request was cancelled: the breaker is probing, nobody reports.
    assert!(matches!(l.route(), Route::Remote { probe: true }));
    assert!(matches!(l.route(), Route::Fallback));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(matches!(l.route(), Route::Remote { probe: true }));
}

#[tokio::test(start_paused = true)]
async fn fail_closed_is_unavailable() {
    let l = breaker(StoreFailure::FailClosed);
    l.inner().fail.store(true, Ordering::SeqCst);
    let lim = limit(10);
    assert!(matches!(
        l.check("k", &lim, 1).await,
        Err(Error::Unavailable(_))
    ));
    assert!(matches!(
        l.check("k", &lim, 1).await,
        Err(Error::Unavailable(_))
    ));
    assert_eq!(calls(&l), 1);
}

#[tokio::test(start_paused = true)]
async fn local_decides_with_the_same_limits() {
    let l = breaker(StoreFailure::Local);
    l.inner().fail.store(true, Ordering::SeqCst);
    let lim = limit(3);
    let allowed = [
        l.check("k", &lim, 1).await.unwrap().allowed,
        l.check("k", &lim, 1).await.unwrap().allowed,
        l.check("k", &lim, 1).await.unwrap().allowed,
        l.check("k", &lim, 1).await.unwrap().allowed,
    ];
    assert_eq!(allowed, [true, true, true, false]);
    assert!(l.check("other", &lim, 1).await.unwrap().allowed);
}

#[tokio::test(start_paused = true)]
async fn fail_open_reports_the_full_limit() {
    let l = breaker(StoreFailure::FailOpen);
    l.inner().fail.store(true, Ordering::SeqCst);
    let d = l.check("k", &limit(7), 1).await.unwrap();
    assert!(d.allowed);
    assert_eq!((d.limit, d.remaining, d.retry_after), (7, 7, None));
}
