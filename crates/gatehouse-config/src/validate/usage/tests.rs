use std::time::Duration;

use crate::model::UsageBackend;
use crate::validate::tests::{BASE, errors, ok, one_error};

#[test]
fn absent_section_disables_metering() {
    let c = ok(BASE);
    assert!(!c.usage.enabled);
    assert_eq!(c.usage.backend, UsageBackend::Memory);
}

#[test]
fn full_section_is_parsed() {
    let c = ok(&format!(
        "{BASE}usage: {{ enabled: true, flush_interval: 5s, retention: 35d, max_series: 500, backend: memory }}\n"
    ));
    assert!(c.usage.enabled);
    assert_eq!(c.usage.flush_interval, Duration::from_secs(5));
    assert_eq!(c.usage.retention, Duration::from_secs(35 * 86_400));
    assert_eq!(c.usage.max_series, 500);
    assert_eq!(c.usage.backend, UsageBackend::Memory);
}

#[test]
fn empty_section_enables_with_defaults() {
    let c = ok(&format!("{BASE}usage: {{}}\n"));
    assert!(c.usage.enabled);
    assert_eq!(c.usage.flush_interval, Duration::from_secs(10));
    assert_eq!(c.usage.retention, Duration::from_secs(35 * 86_400));
    assert_eq!(c.usage.max_series, 10_000);
}

#[test]
fn backend_defaults_to_redis_with_store_redis() {
    let c = ok(&format!(
        "{BASE}store: {{ redis: {{ url: \"redis://127.0.0.1:6379\" }} }}\nusage: {{ retention: 48h }}\n"
    ));
    assert_eq!(c.usage.backend, UsageBackend::Redis);
    assert_eq!(c.usage.retention, Duration::from_secs(48 * 3600));
}

#[test]
fn redis_backend_without_store_is_refused() {
    let d = one_error(
        &format!("{BASE}usage: {{ backend: redis }}\n"),
        7,
        19,
        "usage.backend",
    );
    assert!(d.message.contains("store.redis"), "{d}");
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let diags = errors(&format!(
        "{BASE}usage: {{ flush_interval: 2h, retention: 10x, max_series: 0, backend: mem, colour: red }}\n"
    ));
    let paths: Vec<&str> = diags.iter().map(|d| d.path.as_str()).collect();
    for p in [
        "usage.colour",
        "usage.flush_interval",
        "usage.retention",
        "usage.max_series",
        "usage.backend",
    ] {
        assert!(paths.contains(&p), "{p} missing in {diags:#?}");
    }
    assert_eq!(diags.len(), 5, "{diags:#?}");
}
