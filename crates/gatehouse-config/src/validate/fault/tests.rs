//! `fault_injection` and `routes[].mirror`: the model they produce, defaults, and each error with
//! its location.

use std::time::Duration;

use crate::model::*;
use crate::validate::tests::{BASE, errors, ok, one_error};

/// `BASE` has 6 lines; text appended to it starts on line 7.
fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

fn fault(config: &Config) -> &FaultInjectionConfig {
    match config.plugins.first().map(|p| &p.config) {
        Some(PluginConfig::FaultInjection(c)) => c,
        other => panic!("expected a fault_injection plugin, got {other:?}"),
    }
}

#[test]
fn fault_injection_full_and_defaults() {
    let config = ok(&with_base(
        "plugins:
  - fault_injection: { delay: { duration: 200ms, percentage: 10 }, abort: { status: 503, percentage: 0.5 }, header_control: true }
",
    ));
    assert_eq!(
        fault(&config),
        &FaultInjectionConfig {
            delay: Some(FaultDelay {
                duration: Duration::from_millis(200),
                percentage: 10.0
            }),
            abort: Some(FaultAbort {
                status: 503,
                percentage: 0.5
            }),
            header_control: true,
        }
    );
    let config = ok(&with_base(
        "plugins:\n  - fault_injection: { abort: { status: 429 } }\n",
    ));
    assert_eq!(
        fault(&config),
        &FaultInjectionConfig {
            delay: None,
            abort: Some(FaultAbort {
                status: 429,
                percentage: 100.0
            }),
            header_control: false,
        }
    );
}

#[test]
fn fault_injection_errors_are_located() {
    let d = one_error(
        &with_base("plugins:\n  - fault_injection: { abort: { status: 503, percentage: 101 } }\n"),
        8,
        58,
        "plugins[0].fault_injection.abort.percentage",
    );
    assert!(d.message.contains("out of range"), "{d}");
    let d = one_error(
        &with_base("plugins:\n  - fault_injection: { abort: { status: 302 } }\n"),
        8,
        41,
        "plugins[0].fault_injection.abort.status",
    );
    assert!(d.message.contains("302"), "{d}");
    one_error(
        &with_base("plugins:\n  - fault_injection: { delay: { percentage: 5 } }\n"),
        8,
        31,
        "plugins[0].fault_injection.delay.duration",
    );
    one_error(
        &with_base("plugins:\n  - fault_injection: { delay: { duration: 0s } }\n"),
        8,
        43,
        "plugins[0].fault_injection.delay.duration",
    );
    let d = one_error(
        &with_base("plugins:\n  - fault_injection: {}\n"),
        8,
        22,
        "plugins[0].fault_injection",
    );
    assert!(d.message.contains("injects nothing"), "{d}");
    one_error(
        &with_base("plugins:\n  - fault_injection: { abort: { status: 500, percentage: ten } }\n"),
        8,
        58,
        "plugins[0].fault_injection.abort.percentage",
    );
}

#[test]
fn fault_injection_reports_all_errors_at_once() {
    let diags = errors(&with_base(
        "plugins:\n  - fault_injection: { delay: { duration: 5 }, abort: { status: 200, percentage: -1 }, header_control: maybe }\n",
    ));
    assert_eq!(diags.len(), 4, "{diags:#?}");
}

#[test]
fn mirror_full_and_defaults() {
    let config = ok(&with_base(
        "  shadow:
    targets: [10.0.0.2:8080]
routes:
  - name: a
    upstream: users
    mirror: { upstream: shadow, percentage: 12.5, max_body: 1MiB, timeout: 250ms, max_in_flight: 7 }
  - name: b
    match: { path: { prefix: /b } }
    upstream: users
    mirror: { upstream: shadow }
  - name: c
    match: { path: { prefix: /c } }
    upstream: users
",
    ));
    assert_eq!(
        config.routes[0].resilience.mirror,
        Some(MirrorConfig {
            upstream: "shadow".into(),
            percentage: 12.5,
            max_body: 1024 * 1024,
            timeout: Duration::from_millis(250),
            max_in_flight: 7,
        })
    );
    assert_eq!(
        config.routes[1].resilience.mirror,
        Some(MirrorConfig {
            upstream: "shadow".into(),
            percentage: 100.0,
            max_body: 64 * 1024,
            timeout: Duration::from_secs(1),
            max_in_flight: 100,
        })
    );
    assert_eq!(config.routes[2].resilience.mirror, None);
}

#[test]
fn mirror_errors_are_located() {
    let d = one_error(
        &with_base("routes:\n  - name: a\n    upstream: users\n    mirror: { upstream: shadw }\n"),
        10,
        25,
        "routes[0].mirror.upstream",
    );
    assert!(d.message.contains("unknown upstream `shadw`"), "{d}");
    one_error(
        &with_base("routes:\n  - name: a\n    upstream: users\n    mirror: { percentage: 5 }\n"),
        10,
        13,
        "routes[0].mirror.upstream",
    );
    one_error(
        &with_base(
            "routes:\n  - name: a\n    upstream: users\n    mirror: { upstream: users, percentage: 100.5 }\n",
        ),
        10,
        44,
        "routes[0].mirror.percentage",
    );
    one_error(
        &with_base(
            "routes:\n  - name: a\n    upstream: users\n    mirror: { upstream: users, timeout: 0ms }\n",
        ),
        10,
        41,
        "routes[0].mirror.timeout",
    );
    one_error(
        &with_base(
            "routes:\n  - name: a\n    upstream: users\n    mirror: { upstream: users, sample: 5 }\n",
        ),
        10,
        32,
        "routes[0].mirror.sample",
    );
}
