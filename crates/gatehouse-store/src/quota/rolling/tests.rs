use std::sync::LazyLock;
use std::time::Duration;

use gatehouse_config::model::{QuotaPeriod, RedisStore, StoreFailure};
use gatehouse_testkit::redis::spawn_redis;

use super::*;
use crate::quota::{MemoryQuota, QuotaCounter, RedisQuota, WallClock};

const HOUR: u64 = 3_600;

/// Ten past the next full hour of the real clock: a fixed instant for the whole run that lies in
/// the future, so Redis (which evaluates `EXPIREAT` on its own clock) keeps every key the test
/// writes, whatever the date the suite runs on.
static NOW: LazyLock<u64> =
    LazyLock::new(|| (crate::quota::SystemWallClock.now_unix() / HOUR + 1) * HOUR + 600);

fn day() -> RollingWindow {
    RollingWindow::of(QuotaPeriod::RollingDay).unwrap()
}

#[test]
fn layouts() {
    assert_eq!(day().bucket_secs, HOUR);
    assert_eq!(day().buckets, 24);
    let month = RollingWindow::of(QuotaPeriod::RollingMonth).unwrap();
    assert_eq!((month.bucket_secs, month.buckets), (86_400, 30));
    assert_eq!(RollingWindow::of(QuotaPeriod::Day), None);
    assert_eq!(RollingWindow::of(QuotaPeriod::Month), None);
    assert_eq!(
        rolling_key("consumer:acme", QuotaPeriod::RollingDay),
        "quota:consumer:acme:rolling_day"
    );
    // A request at hh:10 counts until the end of the hour 24 hours later: hh+1:00 the next day.
    let b = day().bucket(*NOW);
    assert_eq!(day().leaves_at(b), *NOW - 600 + 25 * HOUR);
}

/// The sliding window over hourly buckets, driven by an explicit clock: usage leaves the window
/// hour by hour, Retry-After points at the hour that frees enough, and no 24-hour span ever holds
/// more than the limit.
async fn rolling_day_slides(counter: &dyn QuotaCounter, key: &str) {
    let w = day();
    let add = |t: u64, cost: u64| counter.try_add_rolling(key, w, t, cost, 3);
    // 2 at h:10, 1 at h+2:30: the quota of 3 is used up.
    assert!(add(*NOW, 2).await.unwrap().added);
    let t1 = *NOW + 2 * HOUR + 20 * 60;
    let o = add(t1, 1).await.unwrap();
    assert_eq!((o.added, o.used), (true, 3));
    // Fully restored when the h+2 bucket leaves: h+3:00 the next day.
    assert_eq!(o.restored_in, w.leaves_at(w.bucket(t1)) - t1);
    // Refused; the two of h:10 leave at h+1:00 the next day.
    let refused = add(t1 + 60, 1).await.unwrap();
    assert!(!refused.added);
    assert_eq!(refused.used, 3);
    let frees_at = w.leaves_at(w.bucket(*NOW));
    assert_eq!(refused.retry_in, Some(frees_at - (t1 + 60)));
    // One second before: still refused (24 h after h:10 is not enough: the whole hour counts).
    assert!(!add(*NOW + 24 * HOUR, 1).await.unwrap().added);
    assert!(!add(frees_at - 1, 1).await.unwrap().added);
    // At h+1:00 the next day, the h:xx bucket has left: 2 fit again, not 3.
    let o = add(frees_at, 2).await.unwrap();
    assert_eq!((o.added, o.used), (true, 3));
    assert!(!add(frees_at, 1).await.unwrap().added);
    // A read (cost 0) neither counts nor refuses.
    let read = add(frees_at + 10, 0).await.unwrap();
    assert_eq!((read.used, read.retry_in), (3, None));
    // A cost above the limit never fits: retry when everything is gone.
    let big = counter
        .try_add_rolling(key, w, frees_at, 4, 3)
        .await
        .unwrap();
    assert!(!big.added);
    assert_eq!(big.retry_in, Some(big.restored_in));
    // Two days later everything has left.
    let later = add(frees_at + 48 * HOUR, 0).await.unwrap();
    assert_eq!((later.used, later.restored_in), (0, 0));
}

#[tokio::test]
async fn memory_rolling_day_slides_over_hourly_buckets() {
    let q = MemoryQuota::new(10);
    rolling_day_slides(&q, "quota:consumer:acme:rolling_day").await;
}

#[tokio::test]
async fn memory_rolling_keys_are_bounded() {
    let q = MemoryQuota::new(2);
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        let t = *NOW + i as u64 * HOUR;
        assert!(q.try_add_rolling(key, day(), t, 1, 5).await.unwrap().added);
    }
    // "a" (restored soonest) was evicted; "c" and "b" are kept.
    let read = |k: &'static str| q.try_add_rolling(k, day(), *NOW + 3 * HOUR, 0, 5);
    assert_eq!(read("a").await.unwrap().used, 0);
    assert_eq!(read("b").await.unwrap().used, 1);
    assert_eq!(read("c").await.unwrap().used, 1);
}

#[tokio::test]
async fn redis_rolling_day_slides_like_memory_and_is_shared() {
    let Some(server) = spawn_redis() else { return };
    let cfg = RedisStore {
        url: server.url(),
        timeout: Duration::from_secs(2),
        connections: 1,
        on_failure: StoreFailure::FailClosed,
        retry_after: Duration::from_secs(1),
    };
    let a = RedisQuota::new(&cfg).unwrap();
    rolling_day_slides(&a, "quota:consumer:acme:rolling_day").await;
    // Two instances share one window exactly.
    let b = RedisQuota::new(&cfg).unwrap();
    let key = "quota:tenant:t1:rolling_month";
    let w = RollingWindow::of(QuotaPeriod::RollingMonth).unwrap();
    let now = crate::quota::SystemWallClock.now_unix();
    for i in 0..6 {
        let q = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            q.try_add_rolling(key, w, now, 1, 5).await.unwrap().added,
            i < 5
        );
    }
    assert_eq!(b.try_add_rolling(key, w, now, 0, 5).await.unwrap().used, 5);
}
