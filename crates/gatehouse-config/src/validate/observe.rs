//! `observability:`: tracing and the access log (metrics settings, when any, in their own file),
//! and the per-route `access_log: false`.

mod access_log;
mod metrics;
mod tracing;

use super::Ctx;
use super::scalar::boolean;
use super::walk::{Obj, type_error};
use crate::file::{Kind, Node};
use crate::model::Observability;

/// Keys of `observability:`.
const KEYS: &[&str] = &["tracing", "access_log", "metrics"];

/// `observability: { tracing, access_log }`.
pub(crate) fn observability(cx: &mut Ctx, node: &Node, path: &str) -> Observability {
    let mut out = Observability::default();
    let Some(obj) = Obj::new(cx, node, path, KEYS) else {
        return out;
    };
    if let Some(n) = obj.get("tracing")
        && let Some(t) = tracing::tracing(cx, n, &obj.at("tracing"))
    {
        out.tracing = t;
    }
    if let Some(n) = obj.get("access_log")
        && let Some(a) = access_log::access_log(cx, n, &obj.at("access_log"))
    {
        out.access_log = a;
    }
    if let Some(n) = obj.get("metrics")
        && let Some(m) = metrics::metrics(cx, n, &obj.at("metrics"))
    {
        out.metrics = m;
    }
    out
}

/// `routes[].access_log: false` records the route among those not logged.
pub(crate) fn route_access_log(cx: &mut Ctx, obj: &Obj<'_>, name: Option<&str>) {
    let Some(node) = obj.get("access_log") else {
        return;
    };
    if let (Some(false), Some(name)) = (boolean(cx, node, &obj.at("access_log")), name) {
        cx.access_log_off.push(name.to_owned());
    }
}

/// A fraction from 0 to 1 (`0.1` = 10 %).
pub(crate) fn ratio(cx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    if node.failed {
        return None;
    }
    let value = match &node.kind {
        Kind::Int(i) => *i as f64,
        Kind::Float(f) => *f,
        Kind::Str(s) if node.interpolated => s.trim().parse::<f64>().ok().unwrap_or(f64::NAN),
        _ => {
            type_error(cx, node, path, "a number from 0 to 1");
            return None;
        }
    };
    if !(0.0..=1.0).contains(&value) {
        cx.error_hint(
            node,
            path,
            format!("{value} is out of range (allowed 0 to 1)"),
            "a fraction of requests, e.g. `0.1` for 10 %",
        );
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests;
