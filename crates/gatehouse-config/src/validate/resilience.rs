//! Timeouts and retries: `upstreams.<name>.timeouts`, `upstreams.<name>.retry` (with its
//! `budget`), `routes[].timeout` and `routes[].retry`.

use std::time::Duration;

use super::Ctx;
use super::listener::set;
use super::scalar::{
    duration, header_name, methods, positive_duration, size, status, string, u32_min,
};
use super::walk::{Obj, closest, list, type_error};
use crate::file::{Kind, Node};
use crate::model::{Backoff, RetryBudget, RetryOn, RetryPolicy, UpstreamTimeouts};

const TIMEOUT_KEYS: &[&str] = &[
    "connect",
    "per_try",
    "request",
    "total",
    "idle",
    "deadline_header",
    "body",
];

const RETRY_KEYS: &[&str] = &["attempts", "on", "backoff", "methods", "buffer_body"];

const RETRY_ON: &[(&str, RetryOn)] = &[
    ("connect_error", RetryOn::ConnectError),
    ("reset", RetryOn::Reset),
    ("timeout", RetryOn::Timeout),
];

/// `upstreams.<name>.timeouts:` — `connect`, `per_try` (alias `request`), `total`, `idle`,
/// `deadline_header`.
pub(crate) fn timeouts(cx: &mut Ctx, node: &Node, path: &str) -> Option<UpstreamTimeouts> {
    let obj = Obj::new(cx, node, path, TIMEOUT_KEYS)?;
    let mut t = UpstreamTimeouts::default();
    let mut ok = true;
    if let (Some(_), Some(n)) = (obj.get("per_try"), obj.get("request")) {
        cx.error_hint(
            n,
            &obj.at("request"),
            "`request` and `per_try` are the same setting",
            "keep only `per_try`",
        );
        ok = false;
    }
    for key in ["connect", "per_try", "request", "idle"] {
        let Some(n) = obj.get(key) else { continue };
        let slot = match key {
            "connect" => &mut t.connect,
            "idle" => &mut t.idle,
            _ => &mut t.request,
        };
        ok &= set(slot, duration(cx, n, &obj.at(key)));
    }
    for (key, slot) in [("total", &mut t.total), ("body", &mut t.body)] {
        if let Some(n) = obj.get(key) {
            let d = positive_duration(cx, n, &obj.at(key));
            ok &= d.is_some();
            *slot = d;
        }
    }
    if let Some(n) = obj.get("deadline_header") {
        let p = obj.at("deadline_header");
        let h = match n.kind {
            Kind::Bool(false) => Some(None),
            Kind::Bool(true) => Some(Some(http::HeaderName::from_static(
                "x-gatehouse-timeout-ms",
            ))),
            _ => header_name(cx, n, &p).map(Some),
        };
        ok &= set(&mut t.deadline_header, h);
    }
    ok.then_some(t)
}

/// `upstreams.<name>.retry:` — `false`/absent = off, `true` or `{}` = the defaults, or a map.
/// Returns the policy and the cluster's budget (`budget:`, on by default with retries).
pub(crate) fn upstream_retry(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
) -> Option<(Option<RetryPolicy>, Option<RetryBudget>)> {
    match node.kind {
        Kind::Bool(false) => return Some((None, None)),
        Kind::Bool(true) => {
            return Some((Some(RetryPolicy::default()), Some(RetryBudget::default())));
        }
        _ => {}
    }
    let mut keys = RETRY_KEYS.to_vec();
    keys.push("budget");
    let obj = Obj::new(cx, node, path, &keys)?;
    let policy = policy(cx, &obj);
    let budget = match obj.get("budget") {
        None => Some(Some(RetryBudget::default())),
        Some(n) => budget(cx, n, &obj.at("budget")),
    };
    Some((Some(policy?), budget?))
}

/// `routes[].retry:` — `false` = never retry on this route, or a map replacing the upstream's
/// policy (the upstream's budget still applies).
pub(crate) fn route_retry(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<RetryPolicy>> {
    match node.kind {
        Kind::Bool(false) => return Some(Some(RetryPolicy::off())),
        Kind::Bool(true) => return Some(Some(RetryPolicy::default())),
        _ => {}
    }
    let obj = Obj::new(cx, node, path, RETRY_KEYS)?;
    policy(cx, &obj).map(Some)
}

/// `routes[].timeout:` — the overall upstream timeout of the route (overrides `timeouts.total`).
pub(crate) fn route_timeout(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<Duration>> {
    positive_duration(cx, node, path).map(Some)
}

fn policy(cx: &mut Ctx, obj: &Obj<'_>) -> Option<RetryPolicy> {
    let mut r = RetryPolicy::default();
    let mut ok = true;
    if let Some(n) = obj.get("attempts") {
        let p = obj.at("attempts");
        ok &= set(&mut r.attempts, u32_min(cx, n, &p, 1));
        if r.attempts > 10 {
            cx.error_hint(
                n,
                &p,
                format!("{} attempts is too many", r.attempts),
                "use 1 to 10 tries in total (the first one included)",
            );
            ok = false;
        }
    }
    if let Some(n) = obj.get("on") {
        ok &= set(&mut r.on, retry_on(cx, n, &obj.at("on")));
    }
    if let Some(n) = obj.get("backoff") {
        ok &= set(&mut r.backoff, backoff(cx, n, &obj.at("backoff")));
    }
    if let Some(n) = obj.get("methods") {
        ok &= set(&mut r.methods, methods(cx, n, &obj.at("methods")));
    }
    if let Some(n) = obj.get("buffer_body") {
        let p = obj.at("buffer_body");
        ok &= set(&mut r.buffer_body, size(cx, n, &p));
    }
    ok.then_some(r)
}

fn retry_on(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<RetryOn>> {
    let items = list(cx, node, path)?;
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Kind::Int(code) = item.kind {
            match status(cx, item, &p) {
                Some(s) if s >= 500 || s == 429 => out.push(RetryOn::Status(s)),
                Some(_) => {
                    cx.error_hint(
                        item,
                        &p,
                        format!("status {code} is not retryable"),
                        "list 429 or 5xx statuses",
                    );
                    ok = false;
                }
                None => ok = false,
            }
            continue;
        }
        let Some(word) = string(cx, item, &p) else {
            ok = false;
            continue;
        };
        match RETRY_ON.iter().find(|(name, _)| *name == word.trim()) {
            Some((_, on)) => out.push(*on),
            None => {
                let names = RETRY_ON.iter().map(|(n, _)| *n);
                let hint = match closest(&word, names) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "use connect_error, reset, timeout or a status such as 503".into(),
                };
                cx.error_hint(item, &p, format!("unknown retry condition `{word}`"), hint);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn backoff(cx: &mut Ctx, node: &Node, path: &str) -> Option<Backoff> {
    let obj = Obj::new(cx, node, path, &["base", "max"])?;
    let mut b = Backoff::default();
    let mut ok = true;
    if let Some(n) = obj.get("base") {
        ok &= set(&mut b.base, positive_duration(cx, n, &obj.at("base")));
    }
    if let Some(n) = obj.get("max") {
        ok &= set(&mut b.max, positive_duration(cx, n, &obj.at("max")));
    }
    if ok && b.max < b.base {
        cx.error_hint(
            node,
            path,
            "backoff `max` is below `base`",
            "make `max` at least `base`",
        );
        return None;
    }
    ok.then_some(b)
}

fn budget(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<RetryBudget>> {
    if let Kind::Bool(on) = node.kind {
        return Some(on.then(RetryBudget::default));
    }
    let obj = Obj::new(cx, node, path, &["ratio", "window", "min_retries"])?;
    let mut b = RetryBudget::default();
    let mut ok = true;
    if let Some(n) = obj.get("ratio") {
        let p = obj.at("ratio");
        let value = match n.kind {
            Kind::Float(f) => Some(f),
            Kind::Int(i) => Some(i as f64),
            _ => {
                type_error(cx, n, &p, "a number from 0 to 1, e.g. `0.2`");
                None
            }
        };
        match value {
            Some(v) if (0.0..=1.0).contains(&v) => b.ratio = v,
            Some(v) => {
                cx.error_hint(
                    n,
                    &p,
                    format!("retry budget ratio {v} is out of range"),
                    "use a number from 0 to 1, e.g. `0.2` (20 % of requests)",
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("window") {
        ok &= set(&mut b.window, positive_duration(cx, n, &obj.at("window")));
    }
    if let Some(n) = obj.get("min_retries") {
        let p = obj.at("min_retries");
        ok &= set(&mut b.min_retries, u32_min(cx, n, &p, 0));
    }
    ok.then_some(Some(b))
}

#[cfg(test)]
mod tests;
