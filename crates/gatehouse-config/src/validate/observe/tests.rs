//! `observability.tracing`, `observability.access_log` and `routes[].access_log`: the model,
//! defaults, and errors with their locations.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::*;
use crate::validate::tests::{BASE, errors, ok, one_error};

/// `BASE` has 6 lines; text appended to it starts on line 7.
fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

#[test]
fn defaults_without_the_section() {
    let config = ok(BASE);
    let o = &config.observability;
    assert_eq!(o.tracing, Tracing::default());
    assert!(o.tracing.otlp.is_none());
    assert!(!o.access_log.enabled);
}

#[test]
fn full_tracing_and_access_log() {
    let config = ok(&with_base(
        r#"observability:
  tracing:
    otlp: { endpoint: "http://127.0.0.1:4318", protocol: http, timeout: 2s, headers: { X-Api-Key: abc } }
    sampler: { ratio: 0.1 }
    parent_based: false
    batch: { max_queue: 100, max_batch: 10, delay: 200ms }
    service_name: edge
  access_log:
    format: json
    destination: { file: logs/access.log }
    sample: 0.5
    query: true
    redact_query: [Token, api_key]
    buffer: 16
routes:
  - { name: a, upstream: users, access_log: false }
  - { name: b, upstream: users, access_log: true }
"#,
    ));
    let t = &config.observability.tracing;
    let otlp = t.otlp.as_ref().unwrap();
    assert_eq!(otlp.endpoint, "http://127.0.0.1:4318");
    assert_eq!(otlp.protocol, OtlpProtocol::Http);
    assert_eq!(otlp.timeout, Duration::from_secs(2));
    assert_eq!(
        otlp.headers.get("x-api-key").map(String::as_str),
        Some("abc")
    );
    assert_eq!((t.ratio, t.parent_based), (0.1, false));
    assert_eq!(
        t.batch,
        TraceBatch {
            max_queue: 100,
            max_batch: 10,
            delay: Duration::from_millis(200)
        }
    );
    assert_eq!(t.service_name, "edge");
    let a = &config.observability.access_log;
    assert!(a.enabled);
    assert_eq!(
        a.destination,
        LogDestination::File(PathBuf::from("/etc/gatehouse/logs/access.log"))
    );
    assert_eq!((a.sample, a.query, a.buffer), (0.5, true, 16));
    assert_eq!(a.redact_query, ["Token", "api_key"]);
    assert_eq!(a.disabled_routes, ["a"]);
}

#[test]
fn access_log_defaults_and_stderr() {
    let config = ok(&with_base(
        "observability:\n  access_log: { destination: stderr }\n",
    ));
    let a = &config.observability.access_log;
    assert!(a.enabled);
    assert_eq!(a.destination, LogDestination::Stderr);
    assert_eq!((a.sample, a.query, a.buffer), (1.0, false, 8192));
    let config = ok(&with_base(
        "observability:\n  tracing: { otlp: { endpoint: \"http://collector:4317\" } }\n",
    ));
    let otlp = config.observability.tracing.otlp.unwrap();
    assert_eq!(otlp.protocol, OtlpProtocol::Grpc);
    assert_eq!(otlp.timeout, Duration::from_secs(5));
}

#[test]
fn errors_are_located() {
    one_error(
        &with_base("observability:\n  tracing: { sampler: { ratio: 1.5 } }\n"),
        8,
        32,
        "observability.tracing.sampler.ratio",
    );
    one_error(
        &with_base("observability:\n  tracing: { otlp: { endpoint: \"https://x:4317\" } }\n"),
        8,
        32,
        "observability.tracing.otlp.endpoint",
    );
    one_error(
        &with_base("observability:\n  access_log: { destination: syslog }\n"),
        8,
        30,
        "observability.access_log.destination",
    );
    one_error(
        &with_base("observability:\n  access_log: { format: text }\n"),
        8,
        25,
        "observability.access_log.format",
    );
    one_error(
        &with_base("observability:\n  tracing: { sampling: 1 }\n"),
        8,
        14,
        "observability.tracing.sampling",
    );
    one_error(
        &with_base("routes:\n  - { name: a, upstream: users, access_log: maybe }\n"),
        8,
        45,
        "routes[0].access_log",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let diags = errors(&with_base(
        "observability:\n  tracing: { otlp: { protocol: udp }, batch: { max_queue: 0 } }\n  access_log: { buffer: 0, sample: -1 }\n",
    ));
    let paths: Vec<&str> = diags.iter().map(|d| d.path.as_str()).collect();
    for p in [
        "observability.tracing.otlp.endpoint",
        "observability.tracing.otlp.protocol",
        "observability.tracing.batch.max_queue",
        "observability.access_log.buffer",
        "observability.access_log.sample",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
}
