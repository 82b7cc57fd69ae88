use std::time::{Duration, SystemTime};

use gatehouse_config::model::CacheConfig;
use http::{HeaderMap, StatusCode};

use super::Policy;

fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(*n, v.parse().unwrap());
    }
    m
}

fn policy() -> Policy {
    Policy::new(&CacheConfig::default())
}

fn fresh_for(p: &Policy, response: &[(&'static str, &'static str)]) -> Option<Duration> {
    p.storable(
        &HeaderMap::new(),
        StatusCode::OK,
        &h(response),
        SystemTime::now(),
    )
    .map(|f| f.fresh_for)
}

#[test]
fn s_maxage_wins_over_max_age_and_expires() {
    let p = policy();
    let got = fresh_for(
        &p,
        &[
            ("cache-control", "max-age=10, s-maxage=30"),
            ("expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ],
    );
    assert_eq!(got, Some(Duration::from_secs(30)));
    assert_eq!(
        fresh_for(&p, &[("cache-control", "max-age=10")]),
        Some(Duration::from_secs(10))
    );
}

#[test]
fn expires_relative_to_date_and_invalid_expires_is_expired() {
    let p = policy();
    let got = fresh_for(
        &p,
        &[
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("expires", "Sun, 06 Nov 1994 08:50:37 GMT"),
        ],
    );
    assert_eq!(got, Some(Duration::from_secs(60)));
    // Expired with no validator and no stale window: nothing worth storing.
    assert_eq!(fresh_for(&p, &[("expires", "0")]), None);
    assert_eq!(
        fresh_for(&p, &[("expires", "0"), ("etag", "\"a\"")]),
        Some(Duration::ZERO)
    );
}

#[test]
fn default_ttl_without_freshness_information_and_ttl_overrides() {
    assert_eq!(fresh_for(&policy(), &[]), Some(Duration::from_secs(60)));
    let p = Policy::new(&CacheConfig {
        max_ttl: Some(Duration::from_secs(20)),
        ..CacheConfig::default()
    });
    assert_eq!(
        fresh_for(&p, &[("cache-control", "max-age=600")]),
        Some(Duration::from_secs(20))
    );
    let p = Policy::new(&CacheConfig {
        force_ttl: Some(Duration::from_secs(5)),
        ..CacheConfig::default()
    });
    assert_eq!(
        fresh_for(&p, &[("cache-control", "max-age=600")]),
        Some(Duration::from_secs(5))
    );
    let p = Policy::new(&CacheConfig {
        default_ttl: Duration::ZERO,
        ..CacheConfig::default()
    });
    assert_eq!(fresh_for(&p, &[]), None);
}

#[test]
fn never_stored() {
    let p = policy();
    for response in [
        &[("cache-control", "no-store")][..],
        &[("cache-control", "private, max-age=60")],
        &[("set-cookie", "a=b"), ("cache-control", "max-age=60")],
        &[("vary", "accept, *")],
    ] {
        assert_eq!(fresh_for(&p, response), None, "{response:?}");
    }
    let none = p.storable(
        &HeaderMap::new(),
        StatusCode::CREATED,
        &HeaderMap::new(),
        SystemTime::now(),
    );
    assert!(none.is_none(), "201 is not in the default statuses");
}

#[test]
fn no_cache_is_stored_for_revalidation_only() {
    let p = Policy::new(&CacheConfig {
        stale_while_revalidate: Duration::from_secs(9),
        ..CacheConfig::default()
    });
    let f = p
        .storable(
            &HeaderMap::new(),
            StatusCode::OK,
            &h(&[("cache-control", "no-cache"), ("etag", "\"a\"")]),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(
        (f.fresh_for, f.stale_while_revalidate),
        (Duration::ZERO, Duration::ZERO)
    );
    assert!(p.storage_ttl(&f, true) >= Duration::from_secs(60));
}

#[test]
fn authorization_needs_explicit_permission() {
    let p = policy();
    let req = h(&[("authorization", "Bearer x")]);
    let now = SystemTime::now();
    assert!(
        p.storable(
            &req,
            StatusCode::OK,
            &h(&[("cache-control", "max-age=5")]),
            now
        )
        .is_none()
    );
    assert!(
        p.storable(
            &req,
            StatusCode::OK,
            &h(&[("cache-control", "public, max-age=5")]),
            now
        )
        .is_some()
    );
}

#[test]
fn stale_windows_from_directives_or_config_and_vary_names() {
    let p = Policy::new(&CacheConfig {
        stale_if_error: Duration::from_secs(3),
        ..CacheConfig::default()
    });
    let f = p
        .storable(
            &HeaderMap::new(),
            StatusCode::OK,
            &h(&[
                ("cache-control", "max-age=1, stale-while-revalidate=7"),
                ("vary", "Accept-Encoding, accept-language"),
                ("age", "4"),
            ]),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(f.stale_while_revalidate, Duration::from_secs(7));
    assert_eq!(f.stale_if_error, Duration::from_secs(3));
    assert_eq!(f.initial_age, Duration::from_secs(4));
    let names: Vec<&str> = f.vary.iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["accept-encoding", "accept-language"]);
}
