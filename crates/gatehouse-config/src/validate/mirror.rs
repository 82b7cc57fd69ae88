//! `routes[].mirror`: `{ upstream, percentage, max_body, timeout, max_in_flight }`.

use std::time::Duration;

use super::Ctx;
use super::fault::percentage;
use super::listener::set;
use super::scalar::{positive_duration, size, usize_min};
use super::walk::Obj;
use crate::file::Node;
use crate::model::MirrorConfig;

/// Default `max_body`: 64 KiB.
const DEFAULT_MAX_BODY: u64 = 64 * 1024;
/// Default `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default `max_in_flight`.
const DEFAULT_MAX_IN_FLIGHT: usize = 100;

/// A route's `mirror:` settings; `upstream` must name a configured upstream.
pub(crate) fn mirror(cx: &mut Ctx, node: &Node, path: &str) -> Option<MirrorConfig> {
    let obj = Obj::new(
        cx,
        node,
        path,
        &[
            "upstream",
            "percentage",
            "max_body",
            "timeout",
            "max_in_flight",
        ],
    )?;
    let upstream = obj
        .req(cx, "upstream")
        .and_then(|n| super::route::upstream_ref(cx, n, &obj.at("upstream")));
    let mut c = MirrorConfig {
        upstream: String::new(),
        percentage: 100.0,
        max_body: DEFAULT_MAX_BODY,
        timeout: DEFAULT_TIMEOUT,
        max_in_flight: DEFAULT_MAX_IN_FLIGHT,
    };
    let mut ok = set(&mut c.upstream, upstream);
    if let Some(n) = obj.get("percentage") {
        ok &= set(&mut c.percentage, percentage(cx, n, &obj.at("percentage")));
    }
    if let Some(n) = obj.get("max_body") {
        ok &= set(&mut c.max_body, size(cx, n, &obj.at("max_body")));
    }
    if let Some(n) = obj.get("timeout") {
        ok &= set(&mut c.timeout, positive_duration(cx, n, &obj.at("timeout")));
    }
    if let Some(n) = obj.get("max_in_flight") {
        ok &= set(
            &mut c.max_in_flight,
            usize_min(cx, n, &obj.at("max_in_flight"), 1),
        );
    }
    ok.then_some(c)
}
