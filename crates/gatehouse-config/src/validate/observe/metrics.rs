//! `observability.metrics`.

use super::super::Ctx;
use super::super::listener::set;
use super::super::scalar::boolean;
use super::super::walk::Obj;
use crate::file::Node;
use crate::model::Metrics;

/// `metrics: { enabled }`.
pub(super) fn metrics(cx: &mut Ctx, node: &Node, path: &str) -> Option<Metrics> {
    let obj = Obj::new(cx, node, path, &["enabled"])?;
    let mut out = Metrics::default();
    let mut ok = true;
    if let Some(n) = obj.get("enabled") {
        ok &= set(&mut out.enabled, boolean(cx, n, &obj.at("enabled")));
    }
    ok.then_some(out)
}
