//! The `fault_injection` plugin's settings, and percentages (shared with `routes[].mirror`).

use super::Ctx;
use super::listener::set;
use super::scalar::{boolean, positive_duration, status};
use super::walk::{Obj, type_error};
use crate::file::{Kind, Node};
use crate::model::{FaultAbort, FaultDelay, FaultInjectionConfig};

/// A percentage from 0 to 100; decimals allowed (`0.5`).
pub(crate) fn percentage(cx: &mut Ctx, node: &Node, path: &str) -> Option<f64> {
    if node.failed {
        return None;
    }
    let value = match &node.kind {
        Kind::Int(i) => *i as f64,
        Kind::Float(f) => *f,
        Kind::Str(s) if node.interpolated && s.trim().parse::<f64>().is_ok() => {
            s.trim().parse::<f64>().ok()?
        }
        _ => {
            type_error(cx, node, path, "a percentage from 0 to 100");
            return None;
        }
    };
    if !(0.0..=100.0).contains(&value) {
        cx.error_hint(
            node,
            path,
            format!("{value} is out of range (allowed 0 to 100)"),
            "a percentage of requests, e.g. `5` or `0.5`",
        );
        return None;
    }
    Some(value)
}

/// The optional `percentage` key of `obj`; default 100.
pub(crate) fn percentage_or_all(cx: &mut Ctx, obj: &Obj) -> Option<f64> {
    match obj.get("percentage") {
        Some(n) => percentage(cx, n, &obj.at("percentage")),
        None => Some(100.0),
    }
}

/// `fault_injection: { delay: { duration, percentage }, abort: { status, percentage },
/// header_control }`.
pub(crate) fn fault_injection(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
) -> Option<FaultInjectionConfig> {
    let obj = Obj::new(cx, node, path, &["delay", "abort", "header_control"])?;
    let mut c = FaultInjectionConfig::default();
    let mut ok = true;
    if let Some(n) = obj.get("delay") {
        let delay = delay(cx, n, &obj.at("delay"));
        ok &= delay.is_some();
        c.delay = delay;
    }
    if let Some(n) = obj.get("abort") {
        let abort = abort(cx, n, &obj.at("abort"));
        ok &= abort.is_some();
        c.abort = abort;
    }
    if let Some(n) = obj.get("header_control") {
        ok &= set(
            &mut c.header_control,
            boolean(cx, n, &obj.at("header_control")),
        );
    }
    if ok && c.delay.is_none() && c.abort.is_none() && !c.header_control {
        cx.error_hint(
            node,
            path,
            "`fault_injection` injects nothing",
            "set `delay`, `abort` or `header_control: true`",
        );
        return None;
    }
    ok.then_some(c)
}

fn delay(cx: &mut Ctx, node: &Node, path: &str) -> Option<FaultDelay> {
    let obj = Obj::new(cx, node, path, &["duration", "percentage"])?;
    let duration = obj
        .req(cx, "duration")
        .and_then(|n| positive_duration(cx, n, &obj.at("duration")));
    let percentage = percentage_or_all(cx, &obj);
    Some(FaultDelay {
        duration: duration?,
        percentage: percentage?,
    })
}

fn abort(cx: &mut Ctx, node: &Node, path: &str) -> Option<FaultAbort> {
    let obj = Obj::new(cx, node, path, &["status", "percentage"])?;
    let status = obj.req(cx, "status").and_then(|n| {
        let p = obj.at("status");
        let s = status(cx, n, &p)?;
        if s < 400 {
            cx.error_hint(
                n,
                &p,
                format!("cannot abort with status {s}"),
                "fault aborts answer with an error status, 400 to 599",
            );
            return None;
        }
        Some(s)
    });
    let percentage = percentage_or_all(cx, &obj);
    Some(FaultAbort {
        status: status?,
        percentage: percentage?,
    })
}

#[cfg(test)]
mod tests;
