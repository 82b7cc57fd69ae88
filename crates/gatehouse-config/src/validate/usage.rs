//! `usage:`: usage metering for billing (requests per consumer, route, status class and hour).

#[cfg(test)]
mod tests;

use std::time::Duration;

use super::listener::set;
use super::scalar::{boolean, choice, duration, integer};
use super::walk::Obj;
use super::{Ctx, Site, site_of};
use crate::file::Node;
use crate::model::{UsageBackend, UsageMetering};

/// The keys of `usage:`.
const USAGE_KEYS: &[&str] = &[
    "enabled",
    "flush_interval",
    "retention",
    "max_series",
    "backend",
];

/// Allowed `flush_interval`: 100 ms to 1 h (longer would leave too much unflushed at a crash).
const FLUSH_RANGE: Range = (
    Duration::from_millis(100),
    Duration::from_secs(3600),
    "100ms to 1h",
);
/// Allowed `retention`: 1 h to 400 days (a year of billing history plus a margin).
const RETENTION_RANGE: Range = (
    Duration::from_secs(3600),
    Duration::from_secs(400 * 86_400),
    "1h to 400d",
);

/// Inclusive bounds and how they are written in messages.
type Range = (Duration, Duration, &'static str);

/// `usage:` of one file into `out`; `first` remembers where it was set (it may be set in one file
/// only). The default backend is `redis` when `store.redis` is set (pass 1a ran before).
pub(crate) fn usage_section(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    out: &mut UsageMetering,
    first: &mut Option<Site>,
) {
    if let Some(first) = first {
        let message = format!("`usage` is already set in {first}");
        cx.error_hint(node, path, message, "set `usage` in one file only");
        return;
    }
    *first = Some(site_of(cx, node));
    if let Some(value) = usage(cx, node, path) {
        *out = value;
    }
}

/// `usage: { enabled, flush_interval, retention, max_series, backend }`.
fn usage(cx: &mut Ctx, node: &Node, path: &str) -> Option<UsageMetering> {
    let obj = Obj::new(cx, node, path, USAGE_KEYS)?;
    let mut u = UsageMetering {
        enabled: true,
        backend: if cx.store_redis {
            UsageBackend::Redis
        } else {
            UsageBackend::Memory
        },
        ..UsageMetering::default()
    };
    let mut ok = true;
    if let Some(n) = obj.get("enabled") {
        ok &= set(&mut u.enabled, boolean(cx, n, &obj.at("enabled")));
    }
    if let Some(n) = obj.get("flush_interval") {
        let p = obj.at("flush_interval");
        let v = duration(cx, n, &p).and_then(|d| bounded(cx, n, &p, d, FLUSH_RANGE));
        ok &= set(&mut u.flush_interval, v);
    }
    if let Some(n) = obj.get("retention") {
        let p = obj.at("retention");
        let v = retention(cx, n, &p).and_then(|d| bounded(cx, n, &p, d, RETENTION_RANGE));
        ok &= set(&mut u.retention, v);
    }
    if let Some(n) = obj.get("max_series") {
        let v = integer(cx, n, &obj.at("max_series"), 1, 1_000_000);
        ok &= set(&mut u.max_series, v.and_then(|v| usize::try_from(v).ok()));
    }
    if let Some(n) = obj.get("backend") {
        let options = [
            ("memory", UsageBackend::Memory),
            ("redis", UsageBackend::Redis),
        ];
        let p = obj.at("backend");
        match choice(cx, n, &p, &options) {
            Some(UsageBackend::Redis) if !cx.store_redis => {
                cx.error_hint(
                    n,
                    &p,
                    "backend `redis` needs `store.redis`",
                    "add `store: { redis: { url: redis://host:6379 } }`, or use `backend: memory`",
                );
                ok = false;
            }
            Some(b) => u.backend = b,
            None => ok = false,
        }
    }
    ok.then_some(u)
}

/// A duration, also in whole days (`35d`), which the general duration syntax does not have.
fn retention(cx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
    let text = node.text().map(|t| t.trim().to_owned()).unwrap_or_default();
    if let Some(Ok(n)) = text.strip_suffix('d').map(str::parse::<u64>) {
        return Some(Duration::from_secs(n.saturating_mul(86_400)));
    }
    duration(cx, node, path)
}

/// `d` when within `range`, else reported.
fn bounded(cx: &mut Ctx, node: &Node, path: &str, d: Duration, range: Range) -> Option<Duration> {
    let (min, max, text) = range;
    if d < min || d > max {
        cx.error(node, path, format!("out of range (allowed {text})"));
        return None;
    }
    Some(d)
}
