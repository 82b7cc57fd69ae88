//! Backoff bounds, `Retry-After` parsing and failure classification.

use std::time::Duration;

use gatehouse_config::model::{Backoff, RetryOn, RetryPolicy};
use http::{HeaderMap, HeaderValue, Method};

use super::*;

fn backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(25),
        max: Duration::from_secs(1),
    }
}

#[test]
fn the_cap_doubles_from_base_up_to_max() {
    let b = backoff();
    let caps: Vec<u128> = (1..=8).map(|n| backoff_cap(&b, n).as_millis()).collect();
    assert_eq!(caps, [25, 50, 100, 200, 400, 800, 1000, 1000]);
    assert_eq!(backoff_cap(&b, u32::MAX), Duration::from_secs(1));
}

#[test]
fn full_jitter_stays_within_zero_and_the_cap_and_spreads() {
    let b = backoff();
    for retry in 1..=6 {
        let cap = backoff_cap(&b, retry);
        let delays: Vec<Duration> = (0..500).map(|_| backoff_delay(&b, retry)).collect();
        assert!(
            delays.iter().all(|d| *d <= cap),
            "retry {retry}: above {cap:?}"
        );
        // Full jitter uses the whole range, not just the top: some waits below half the cap,
        // some above (each has probability 1 - 2^-500 of happening).
        assert!(delays.iter().any(|d| *d < cap / 2), "retry {retry}");
        assert!(delays.iter().any(|d| *d > cap / 2), "retry {retry}");
    }
}

#[test]
fn retry_after_takes_delta_seconds_and_http_dates() {
    let mut h = HeaderMap::new();
    assert_eq!(retry_after(&h), None);
    h.insert("retry-after", HeaderValue::from_static("2"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
    h.insert("retry-after", HeaderValue::from_static(" 0 "));
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    // A date in the past: no wait.
    let past = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
    h.insert("retry-after", past);
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    for bad in ["-1", "1.5", "", "Wed, 21 Oct 2015 07:28:00 PST", "tomorrow"] {
        h.insert("retry-after", HeaderValue::from_static(bad));
        assert_eq!(retry_after(&h), None, "{bad:?}");
    }
}

#[test]
fn http_dates_convert_to_epoch_seconds() {
    // Reference values from `date -u -d '…' +%s`.
    assert_eq!(
        http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(
        http_date("Tue, 29 Feb 2000 23:59:59 GMT"),
        Some(951_868_799)
    );
    assert_eq!(
        http_date("Mon, 01 Mar 2100 00:00:00 GMT"),
        Some(4_107_542_400)
    );
    assert_eq!(http_date("Sun, 06 Nov 1994 24:49:37 GMT"), None);
    assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
}

#[test]
fn only_listed_methods_or_an_idempotency_key_are_retryable() {
    let policy = RetryPolicy::default();
    let mut h = HeaderMap::new();
    assert!(is_retryable_request(&policy, &Method::GET, &h));
    assert!(is_retryable_request(&policy, &Method::PUT, &h));
    assert!(!is_retryable_request(&policy, &Method::POST, &h));
    assert!(!is_retryable_request(&policy, &Method::PATCH, &h));
    h.insert("idempotency-key", HeaderValue::from_static("k1"));
    assert!(is_retryable_request(&policy, &Method::POST, &h));
}

#[test]
fn failures_match_the_policy_conditions() {
    let policy = RetryPolicy {
        on: vec![RetryOn::Reset, RetryOn::Status(503)],
        ..RetryPolicy::default()
    };
    assert!(Failure::Reset.is_retried_by(&policy));
    assert!(Failure::Status(503).is_retried_by(&policy));
    assert!(!Failure::Status(502).is_retried_by(&policy));
    assert!(!Failure::Timeout.is_retried_by(&policy));
    assert!(!Failure::ConnectError.is_retried_by(&policy));
    let timeout = Error::Timeout {
        target: "t".into(),
        timeout: Duration::from_secs(1),
    };
    assert_eq!(Failure::of_error(&timeout), Some(Failure::Timeout));
    let connect = Error::Connect {
        target: "t".into(),
        source: "refused".into(),
    };
    assert_eq!(Failure::of_error(&connect), Some(Failure::ConnectError));
    assert!(!connect.is_connect_timeout());
}

#[test]
fn stats_count_by_reason_and_kind() {
    let s = CallStats::default();
    s.retry(Failure::Status(503));
    s.retry(Failure::Status(502));
    s.retry(Failure::Reset);
    s.timeout(TimeoutKind::Total);
    s.budget_exhausted();
    assert_eq!(s.retries(), [0, 1, 0, 2]);
    assert_eq!(s.timeouts(), [0, 0, 1, 0]);
    assert_eq!(s.budget_exhausted_count(), 1);
}
