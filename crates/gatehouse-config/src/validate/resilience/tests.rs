//! `timeouts`, `retry` and route overrides: the model, defaults and errors.

use std::time::Duration;

use http::Method;

use crate::model::{Backoff, RetryBudget, RetryOn, RetryPolicy};
use crate::validate::tests::{BASE, errors, ok, one_error};

/// `BASE` with extra keys under `upstreams.users` (appended lines start on line 7).
fn upstream(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn full_settings_are_parsed() {
    let text = upstream(
        "    timeouts: { connect: 1s, per_try: 2s, total: 5s, idle: 30s, deadline_header: x-deadline-ms, body: 4s }
    retry:
      attempts: 3
      on: [connect_error, reset, timeout, 503, 429]
      backoff: { base: 10ms, max: 200ms }
      methods: [GET, POST]
      buffer_body: 1KiB
      budget: { ratio: 0.5, window: 5s, min_retries: 7 }
routes:
  - { name: r, upstream: users, timeout: 3s, retry: { attempts: 4 } }
  - { name: s, upstream: users, retry: false }
",
    );
    let config = ok(&text);
    let u = &config.upstreams[0];
    assert_eq!(u.timeouts.connect, Duration::from_secs(1));
    assert_eq!(u.timeouts.request, Duration::from_secs(2));
    assert_eq!(u.timeouts.total, Some(Duration::from_secs(5)));
    assert_eq!(u.timeouts.idle, Duration::from_secs(30));
    assert_eq!(u.timeouts.body, Some(Duration::from_secs(4)));
    assert_eq!(
        u.timeouts.deadline_header.as_ref().map(|h| h.as_str()),
        Some("x-deadline-ms")
    );
    assert_eq!(
        u.resilience.retry,
        Some(RetryPolicy {
            attempts: 3,
            on: vec![
                RetryOn::ConnectError,
                RetryOn::Reset,
                RetryOn::Timeout,
                RetryOn::Status(503),
                RetryOn::Status(429),
            ],
            backoff: Backoff {
                base: Duration::from_millis(10),
                max: Duration::from_millis(200),
            },
            methods: vec![Method::GET, Method::POST],
            buffer_body: 1024,
        })
    );
    assert_eq!(
        u.resilience.retry_budget,
        Some(RetryBudget {
            ratio: 0.5,
            window: Duration::from_secs(5),
            min_retries: 7,
        })
    );
    let r = &config.routes[0].resilience;
    assert_eq!(r.timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        r.retry,
        Some(RetryPolicy {
            attempts: 4,
            ..RetryPolicy::default()
        })
    );
    assert_eq!(config.routes[1].resilience.retry, Some(RetryPolicy::off()));
}

#[test]
fn defaults_are_off_and_true_means_the_defaults() {
    let config = ok(BASE);
    let u = &config.upstreams[0];
    assert_eq!(u.resilience.retry, None);
    assert_eq!(u.resilience.retry_budget, None);
    assert_eq!(u.timeouts.total, None);
    assert_eq!(u.timeouts.deadline_header, None);
    assert_eq!(u.timeouts.request, Duration::from_secs(60));

    let config = ok(&upstream(
        "    retry: true\n    timeouts: { request: 3s, deadline_header: true }\n",
    ));
    let u = &config.upstreams[0];
    assert_eq!(u.resilience.retry, Some(RetryPolicy::default()));
    assert_eq!(u.resilience.retry_budget, Some(RetryBudget::default()));
    assert_eq!(u.timeouts.request, Duration::from_secs(3));
    assert_eq!(
        u.timeouts.deadline_header.as_ref().map(|h| h.as_str()),
        Some("x-gatehouse-timeout-ms")
    );

    let config = ok(&upstream("    retry: { budget: false }\n"));
    assert_eq!(config.upstreams[0].resilience.retry_budget, None);
}

#[test]
fn errors_point_at_the_value_with_a_hint() {
    let d = one_error(
        &upstream("    retry: { on: [conect_error] }\n"),
        7,
        19,
        "upstreams.users.retry.on[0]",
    );
    assert!(d.to_string().contains("connect_error"), "{d}");
    let d = one_error(
        &upstream("    retry: { on: [404] }\n"),
        7,
        19,
        "upstreams.users.retry.on[0]",
    );
    assert!(d.to_string().contains("not retryable"), "{d}");
    one_error(
        &upstream("    retry: { attempts: 0 }\n"),
        7,
        24,
        "upstreams.users.retry.attempts",
    );
    one_error(
        &upstream("    timeouts: { per_try: 1s, request: 2s }\n"),
        7,
        39,
        "upstreams.users.timeouts.request",
    );
    let d = one_error(
        &upstream("    retry: { backoff: { base: 2s, max: 1s } }\n"),
        7,
        23,
        "upstreams.users.retry.backoff",
    );
    assert!(d.to_string().contains("below"), "{d}");
}

#[test]
fn every_error_is_reported_at_once() {
    let text = upstream(
        "    retry: { attempts: 50, budget: { ratio: 2 }, backoff: { base: 5 } }
    timeouts: { total: 0s, deadline_header: \"bad header\" }
routes:
  - { name: r, upstream: users, timeout: soon, retry: { budget: {} } }
",
    );
    let diags = errors(&text);
    let paths: Vec<&str> = diags.iter().map(|d| d.path.as_str()).collect();
    for p in [
        "upstreams.users.retry.attempts",
        "upstreams.users.retry.budget.ratio",
        "upstreams.users.retry.backoff.base",
        "upstreams.users.timeouts.total",
        "upstreams.users.timeouts.deadline_header",
        "routes[0].timeout",
        "routes[0].retry.budget",
    ] {
        assert!(paths.contains(&p), "no error at {p}: {paths:?}");
    }
}
