use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_config::model::{
    Backend, LimitSource, Plan, Quota, QuotaPeriod, QuotaScope, RateLimitConfig, RateLimitHeaders,
};
use gatehouse_store::quota::{ManualWallClock, MemoryQuota, days_from_civil};

use super::super::{Limiters, RateLimit};
use crate::Identity;
use crate::builtin::testing::cx;

fn plans(scope: QuotaScope, period: QuotaPeriod) -> Arc<HashMap<String, Plan>> {
    Arc::new(HashMap::from([(
        "metered".to_owned(),
        Plan {
            name: "metered".to_owned(),
            limits: vec![],
            quota: Some(Quota {
                requests: 3,
                period,
                scope,
            }),
        },
    )]))
}

fn plugin(scope: QuotaScope, period: QuotaPeriod, clock: Arc<ManualWallClock>) -> RateLimit {
    let config = RateLimitConfig {
        limits: LimitSource::Plan { fallback: vec![] },
        key: vec![],
        backend: Backend::Memory,
        headers: RateLimitHeaders::default(),
        max_keys: 100,
        approximate: None,
    };
    // One clock for everything that reads time: the plugin's periods and the in-process counter
    // (which drops a counter once its period has ended).
    let limiters = Limiters::default();
    limiters.adopt_memory_quota(Arc::new(MemoryQuota::with_clock(100, clock.clone())));
    let mut p = RateLimit::new(&config, plans(scope, period), &limiters).unwrap();
    p.set_quota_clock(clock);
    p
}

fn identity(consumer: Option<&str>, tenant: Option<&str>) -> Identity {
    Identity {
        method: "key_auth",
        consumer_id: consumer.map(str::to_owned),
        tenant: tenant.map(str::to_owned),
        plan: Some("metered".to_owned()),
        ..Default::default()
    }
}

/// Status of the quota check for `id` (200 = allowed) and its `Retry-After`.
async fn check(p: &RateLimit, id: Identity) -> (u16, Option<String>) {
    let mut c = cx();
    c.identity = Some(id);
    match p.check_quota(&mut c).await {
        None => (200, None),
        Some(r) => (
            r.status().as_u16(),
            r.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
    }
}

#[tokio::test]
async fn day_quota_resets_at_midnight_utc() {
    let midnight = days_from_civil(2026, 11, 23) * 86_400;
    let clock = Arc::new(ManualWallClock::at(midnight - 100));
    let p = plugin(QuotaScope::Consumer, QuotaPeriod::Day, clock.clone());
    let acme = || identity(Some("acme"), Some("t1"));
    for _ in 0..3 {
        assert_eq!(check(&p, acme()).await, (200, None));
    }
    assert_eq!(check(&p, acme()).await, (429, Some("100".into())));
    clock.set(midnight - 1);
    assert_eq!(check(&p, acme()).await, (429, Some("1".into())));
    // 00:00 UTC: a new day, counted from zero.
    clock.set(midnight);
    for _ in 0..3 {
        assert_eq!(check(&p, acme()).await, (200, None));
    }
    assert_eq!(check(&p, acme()).await, (429, Some("86400".into())));
}

#[tokio::test]
async fn tenant_scope_is_shared_and_callers_without_an_id_are_not_counted() {
    let clock = Arc::new(ManualWallClock::at(days_from_civil(2026, 11, 22) * 86_400));
    let p = plugin(QuotaScope::Tenant, QuotaPeriod::Month, clock);
    assert_eq!(check(&p, identity(Some("a"), Some("t1"))).await.0, 200);
    assert_eq!(check(&p, identity(Some("b"), Some("t1"))).await.0, 200);
    assert_eq!(check(&p, identity(Some("c"), Some("t1"))).await.0, 200);
    assert_eq!(check(&p, identity(Some("a"), Some("t1"))).await.0, 429);
    assert_eq!(check(&p, identity(Some("a"), Some("t2"))).await.0, 200);
    for _ in 0..5 {
        assert_eq!(check(&p, identity(Some("a"), None)).await.0, 200);
    }
}

#[tokio::test]
async fn rolling_day_is_enforced_over_hourly_buckets() {
    // 13:10 UTC.
    let start = days_from_civil(2026, 11, 22) * 86_400 + 13 * 3_600 + 600;
    let clock = Arc::new(ManualWallClock::at(start));
    let p = plugin(QuotaScope::Consumer, QuotaPeriod::RollingDay, clock.clone());
    let acme = || identity(Some("acme"), None);
    for _ in 0..3 {
        assert_eq!(check(&p, acme()).await, (200, None));
    }
    // Refused until the 13:xx hour has left the window: 14:00 the next day.
    let frees_at = start - 600 + 25 * 3_600;
    assert_eq!(
        check(&p, acme()).await,
        (429, Some((frees_at - start).to_string()))
    );
    clock.set(frees_at - 1);
    assert_eq!(check(&p, acme()).await, (429, Some("1".into())));
    clock.set(frees_at);
    assert_eq!(check(&p, acme()).await.0, 200);
    // Another consumer has its own window.
    assert_eq!(check(&p, identity(Some("other"), None)).await.0, 200);
}

#[tokio::test]
async fn quota_is_counted_once_per_request() {
    let clock = Arc::new(ManualWallClock::at(days_from_civil(2026, 11, 22) * 86_400));
    let first = plugin(QuotaScope::Consumer, QuotaPeriod::Day, clock.clone());
    for _ in 0..3 {
        let mut c = cx();
        c.identity = Some(identity(Some("acme"), None));
        assert!(first.check_quota(&mut c).await.is_none());
        // A second plugin on the same request (same counters) does not count it again.
        assert!(first.check_quota(&mut c).await.is_none());
        assert!(c.extensions.get::<super::super::QuotaCounted>().is_some());
    }
    let mut c = cx();
    c.identity = Some(identity(Some("acme"), None));
    assert_eq!(
        first.check_quota(&mut c).await.map(|r| r.status().as_u16()),
        Some(429)
    );
}
