//! `circuit_breaker`, `bulkhead` and `server.load_shedding`: the model, defaults and errors.

use std::time::Duration;

use crate::model::{Bulkhead, CircuitBreaker, LoadShedding};
use crate::validate::tests::{BASE, ok, one_error};

/// `BASE` with extra keys under `upstreams.users` (appended lines start on line 7).
fn upstream(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn full_settings_are_parsed() {
    let text = upstream(
        "    circuit_breaker: { consecutive_failures: 7, failure_ratio: 0.25, window: 20s, min_requests: 4, cool_down: 2s, half_open_probes: 1 }
    bulkhead: { max_concurrent: 8, max_queue: 0, queue_timeout: 50ms }
routes:
  - { name: r, upstream: users, bulkhead: { max_concurrent: 2 } }
server:
  load_shedding: { max_in_flight: 500, max_memory: 1GiB, retry_after: 3s }
",
    );
    let config = ok(&text);
    let r = &config.upstreams[0].resilience;
    assert_eq!(
        r.circuit_breaker,
        Some(CircuitBreaker {
            consecutive_failures: 7,
            failure_ratio: 0.25,
            window: Duration::from_secs(20),
            min_requests: 4,
            cool_down: Duration::from_secs(2),
            half_open_probes: 1,
        })
    );
    assert_eq!(
        r.bulkhead,
        Some(Bulkhead {
            max_concurrent: 8,
            max_queue: 0,
            queue_timeout: Duration::from_millis(50),
        })
    );
    assert_eq!(
        config.routes[0].resilience.bulkhead,
        Some(Bulkhead {
            max_concurrent: 2,
            ..Bulkhead::default()
        })
    );
    assert_eq!(
        config.server.load_shedding,
        LoadShedding {
            max_in_flight: Some(500),
            max_memory: Some(1 << 30),
            retry_after: Some(Duration::from_secs(3)),
        }
    );
}

#[test]
fn everything_is_off_by_default_and_true_means_defaults() {
    let config = ok(BASE);
    assert_eq!(config.upstreams[0].resilience.circuit_breaker, None);
    assert_eq!(config.upstreams[0].resilience.bulkhead, None);
    assert_eq!(config.server.load_shedding, LoadShedding::default());
    let config = ok(&upstream("    circuit_breaker: true\n    bulkhead: {}\n"));
    let r = &config.upstreams[0].resilience;
    assert_eq!(r.circuit_breaker, Some(CircuitBreaker::default()));
    assert_eq!(r.bulkhead, Some(Bulkhead::default()));
    let config = ok(&upstream("    circuit_breaker: {}\n"));
    assert_eq!(
        config.upstreams[0].resilience.circuit_breaker,
        Some(CircuitBreaker::default())
    );
    let config = ok(&upstream("    circuit_breaker: false\n"));
    assert_eq!(config.upstreams[0].resilience.circuit_breaker, None);
}

#[test]
fn out_of_range_ratio_is_refused_at_its_value() {
    let d = one_error(
        &upstream("    circuit_breaker: { failure_ratio: 1.5 }\n"),
        7,
        39,
        "upstreams.users.circuit_breaker.failure_ratio",
    );
    assert!(d.message.contains("out of range"), "{d}");
}

#[test]
fn a_breaker_that_cannot_open_is_refused() {
    let d = one_error(
        &upstream("    circuit_breaker: { consecutive_failures: 0, failure_ratio: 0 }\n"),
        7,
        22,
        "upstreams.users.circuit_breaker",
    );
    assert!(d.message.contains("never open"), "{d}");
}

#[test]
fn unknown_and_invalid_keys_are_reported_together() {
    let text = upstream(
        "    bulkhead: { max_concurrent: 0, max_queue: 1 }
routes:
  - { name: r, upstream: users, bulkhead: { max_concurent: 2 } }
server:
  load_shedding: { max_memory: lots }
",
    );
    let diags = crate::validate::tests::errors(&text);
    let paths: Vec<&str> = diags.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "upstreams.users.bulkhead.max_concurrent",
            "routes[0].bulkhead.max_concurent",
            "server.load_shedding.max_memory",
        ],
        "{diags:#?}"
    );
    let typo = diags.iter().find(|d| d.path.ends_with("max_concurent"));
    let hint = typo.and_then(|d| d.hint.as_deref()).unwrap_or_default();
    assert!(hint.contains("max_concurrent"), "{diags:#?}");
}
