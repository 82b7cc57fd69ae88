//! `rate_limit.approximate`: local decisions synced to Redis every `sync_interval`.

use super::super::Ctx;
use super::super::listener::set;
use super::super::scalar::positive_duration;
use super::super::walk::Obj;
use crate::file::Node;
use crate::model::{Approximate, Backend};

/// `approximate: { sync_interval: 100ms }` (or `approximate: {}` for the defaults). Only with the
/// Redis backend: an in-process limit has nothing to sync with.
pub(crate) fn approximate(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    backend: Backend,
) -> Option<Approximate> {
    let obj = Obj::new(cx, node, path, &["sync_interval"])?;
    let mut a = Approximate::default();
    let mut ok = true;
    if let Some(n) = obj.get("sync_interval") {
        ok &= set(
            &mut a.sync_interval,
            positive_duration(cx, n, &obj.at("sync_interval")),
        );
    }
    if backend != Backend::Redis && !cx.incomplete {
        cx.error_hint(
            node,
            path,
            "`approximate` needs the Redis backend",
            "set `store: { redis: { url: ... } }` (and `backend: redis`), or remove `approximate`",
        );
        return None;
    }
    ok.then_some(a)
}
