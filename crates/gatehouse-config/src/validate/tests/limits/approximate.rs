//! `rate_limit.approximate`: accepted with the Redis backend, refused otherwise.

use std::time::Duration;

use super::super::{ok, one_error};
use super::{rate_limit, with_base};
use crate::model::*;

const STORE: &str = "store: { redis: { url: \"redis://127.0.0.1:6379\" } }\n";

#[test]
fn approximate_with_redis() {
    let c = ok(&with_base(&format!(
        "{STORE}plugins:\n  - rate_limit: {{ limits: [{{ requests: 1, per: 1s }}], approximate: {{ sync_interval: 50ms }} }}\n"
    )));
    assert_eq!(
        rate_limit(&c).approximate,
        Some(Approximate {
            sync_interval: Duration::from_millis(50)
        })
    );
    let c = ok(&with_base(&format!(
        "{STORE}plugins:\n  - rate_limit: {{ limits: [{{ requests: 1, per: 1s }}], approximate: {{}} }}\n"
    )));
    assert_eq!(
        rate_limit(&c).approximate.map(|a| a.sync_interval),
        Some(Duration::from_millis(100))
    );
    let c = ok(&with_base(&format!(
        "{STORE}plugins:\n  - rate_limit: {{ limits: [{{ requests: 1, per: 1s }}] }}\n"
    )));
    assert_eq!(rate_limit(&c).approximate, None);
}

#[test]
fn approximate_needs_the_redis_backend() {
    let d = one_error(
        &with_base(
            "plugins:\n  - rate_limit: { limits: [{ requests: 1, per: 1s }], approximate: { sync_interval: 100ms } }\n",
        ),
        8,
        68,
        "plugins[0].rate_limit.approximate",
    );
    assert_eq!(d.message, "`approximate` needs the Redis backend");
    let d = one_error(
        &with_base(&format!(
            "{STORE}plugins:\n  - rate_limit: {{ limits: [{{ requests: 1, per: 1s }}], backend: memory, approximate: {{}} }}\n"
        )),
        9,
        85,
        "plugins[0].rate_limit.approximate",
    );
    assert!(d.message.contains("Redis backend"), "{d}");
    let d = one_error(
        &with_base(&format!(
            "{STORE}plugins:\n  - rate_limit: {{ limits: [{{ requests: 1, per: 1s }}], approximate: {{ sync_interval: 0s }} }}\n"
        )),
        9,
        85,
        "plugins[0].rate_limit.approximate.sync_interval",
    );
    assert!(!d.message.is_empty());
}
