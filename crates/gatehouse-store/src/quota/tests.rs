use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{QuotaPeriod, RedisStore, StoreFailure};
use gatehouse_testkit::redis::spawn_redis;

use super::*;

/// 2026-11-22T13:10:00Z.
const NOW: u64 = 1_795_353_000;

#[test]
fn civil_round_trip() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(civil_from_days(NOW / DAY), (2026, 11, 22));
    for days in (0..200_000).step_by(7) {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
}

#[test]
fn day_window() {
    let w = period_window(QuotaPeriod::Day, NOW).unwrap();
    assert_eq!(w.label, "2026-11-22");
    assert_eq!(w.start_unix, days_from_civil(2026, 11, 22) * DAY);
    assert_eq!(w.end_unix, days_from_civil(2026, 11, 23) * DAY);
    // The last second of a day belongs to it; midnight starts the next.
    let last = period_window(QuotaPeriod::Day, w.end_unix - 1).unwrap();
    assert_eq!(last.label, "2026-11-22");
    let next = period_window(QuotaPeriod::Day, w.end_unix).unwrap();
    assert_eq!(next.label, "2026-11-23");
}

fn month_end(y: u64, m: u64, d: u64) -> (String, (u64, u64, u64)) {
    let w = period_window(QuotaPeriod::Month, days_from_civil(y, m, d) * DAY + 3_600).unwrap();
    (w.label, civil_from_days(w.end_unix / DAY))
}

#[test]
fn month_ends() {
    assert_eq!(month_end(2026, 11, 22), ("2026-11".into(), (2026, 12, 1)));
    assert_eq!(month_end(2026, 12, 31), ("2026-12".into(), (2027, 1, 1)));
    assert_eq!(month_end(2028, 2, 29), ("2028-02".into(), (2028, 3, 1)));
    assert_eq!(month_end(2027, 2, 28), ("2027-02".into(), (2027, 3, 1)));
    assert_eq!(month_end(2000, 2, 29), ("2000-02".into(), (2000, 3, 1)));
    assert_eq!(month_end(2026, 1, 31), ("2026-01".into(), (2026, 2, 1)));
    // Leap-year February has 29 days, others 28; 2100 is not a leap year.
    let feb = |y| days_from_civil(y, 3, 1) - days_from_civil(y, 2, 1);
    assert_eq!(
        (feb(2028), feb(2027), feb(2000), feb(2100)),
        (29, 28, 29, 28)
    );
    let w = period_window(QuotaPeriod::Month, NOW).unwrap();
    assert_eq!(w.start_unix, days_from_civil(2026, 11, 1) * DAY);
}

#[test]
fn rolling_periods_are_not_windowed() {
    assert_eq!(period_window(QuotaPeriod::RollingDay, NOW), None);
    assert_eq!(period_window(QuotaPeriod::RollingMonth, NOW), None);
}

#[tokio::test]
async fn memory_counts_and_resets_at_midnight_utc() {
    let clock = Arc::new(ManualWallClock::at(NOW));
    let quota = MemoryQuota::with_clock(10, clock.clone());
    let w = period_window(QuotaPeriod::Day, clock.now_unix()).unwrap();
    let key = quota_key("acme", &w);
    assert_eq!(key, "quota:acme:2026-11-22");
    for i in 1..=3 {
        assert_eq!(quota.add(&key, w.end_unix, 1).await.unwrap(), i);
    }
    assert_eq!(quota.get(&key).await.unwrap(), 3);
    clock.set(w.end_unix - 1);
    assert_eq!(quota.get(&key).await.unwrap(), 3);
    // 00:00 UTC: the old counter has expired and the new day's key starts from zero.
    clock.set(w.end_unix);
    assert_eq!(quota.get(&key).await.unwrap(), 0);
    let next = period_window(QuotaPeriod::Day, clock.now_unix()).unwrap();
    let next_key = quota_key("acme", &next);
    assert_ne!(next_key, key);
    assert_eq!(quota.get(&next_key).await.unwrap(), 0);
    assert_eq!(quota.add(&next_key, next.end_unix, 1).await.unwrap(), 1);
    assert_eq!(
        quota.try_add(&next_key, next.end_unix, 1, 2).await.unwrap(),
        (true, 2)
    );
    assert_eq!(
        quota.try_add(&next_key, next.end_unix, 1, 2).await.unwrap(),
        (false, 2)
    );
    assert_eq!(quota.get(&next_key).await.unwrap(), 2);
    // Even the same key restarts once its period has ended.
    assert_eq!(quota.add(&key, next.end_unix, 1).await.unwrap(), 1);
}

#[tokio::test]
async fn memory_is_bounded() {
    let clock = Arc::new(ManualWallClock::at(100));
    let quota = MemoryQuota::with_clock(3, clock.clone());
    quota.add("a", 150, 1).await.unwrap();
    quota.add("b", 300, 1).await.unwrap();
    quota.add("c", 200, 1).await.unwrap();
    quota.add("d", 400, 1).await.unwrap(); // evicts the soonest-ending, "a"
    assert_eq!(quota.len(), 3);
    assert_eq!(quota.get("a").await.unwrap(), 0);
    assert_eq!(quota.get("b").await.unwrap(), 1);
    clock.set(250); // "c" has expired: dropped first
    quota.add("e", 400, 1).await.unwrap();
    assert_eq!(quota.len(), 3);
    assert_eq!(quota.get("b").await.unwrap(), 1);
    assert_eq!(quota.get("d").await.unwrap(), 1);
}

#[tokio::test]
async fn redis_counts_exactly_across_instances_and_expires() {
    let Some(server) = spawn_redis() else { return };
    let cfg = RedisStore {
        url: server.url(),
        timeout: Duration::from_secs(2),
        connections: 1,
        on_failure: StoreFailure::FailClosed,
        retry_after: Duration::from_secs(1),
    };
    let a = Arc::new(RedisQuota::new(&cfg).unwrap());
    let b = Arc::new(RedisQuota::new(&cfg).unwrap());
    let end = SystemWallClock.now_unix() + 3_600;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let q = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            q.add("quota:acme:2026-11", end, 1).await.unwrap()
        }));
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=40).collect::<Vec<_>>());
    assert_eq!(a.get("quota:acme:2026-11").await.unwrap(), 40);
    assert_eq!(b.get("quota:other:2026-11").await.unwrap(), 0);
    let key = "quota:t:2026-11";
    assert_eq!(a.try_add(key, end, 2, 3).await.unwrap(), (true, 2));
    assert_eq!(b.try_add(key, end, 2, 3).await.unwrap(), (false, 2));
    assert_eq!(b.try_add(key, end, 1, 3).await.unwrap(), (true, 3));
    assert_eq!(a.get(key).await.unwrap(), 3);
    // A period that has already ended: the key expires at once.
    a.add("quota:old:2026-10", 1, 5).await.unwrap();
    assert_eq!(a.get("quota:old:2026-10").await.unwrap(), 0);
}
