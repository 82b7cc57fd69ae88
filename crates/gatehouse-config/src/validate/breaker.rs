//! Circuit breakers, bulkheads and load shedding: `upstreams.<name>.circuit_breaker`,
//! `upstreams.<name>.bulkhead`, `routes[].bulkhead` and `server.load_shedding`.

use super::Ctx;
use super::listener::set;
use super::scalar::{duration, positive_duration, size, u32_min};
use super::walk::Obj;
use crate::file::{Kind, Node};
use crate::model::{Bulkhead, CircuitBreaker, LoadShedding};

const BREAKER_KEYS: &[&str] = &[
    "consecutive_failures",
    "failure_ratio",
    "window",
    "min_requests",
    "cool_down",
    "half_open_probes",
];

/// `circuit_breaker:` — `false`/absent = off, `true` or `{}` = the defaults, or a map of settings.
pub(crate) fn circuit_breaker(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
) -> Option<Option<CircuitBreaker>> {
    if let Kind::Bool(on) = node.kind {
        return Some(on.then(CircuitBreaker::default));
    }
    let empty = Node::new(Kind::Map(Vec::new()), node.line, node.column);
    let node = if node.is_null() { &empty } else { node };
    let obj = Obj::new(cx, node, path, BREAKER_KEYS)?;
    let mut cb = CircuitBreaker::default();
    let mut ok = true;
    if let Some(n) = obj.get("consecutive_failures") {
        let p = obj.at("consecutive_failures");
        ok &= set(&mut cb.consecutive_failures, u32_min(cx, n, &p, 0));
    }
    if let Some(n) = obj.get("failure_ratio") {
        ok &= set(
            &mut cb.failure_ratio,
            super::observe::ratio(cx, n, &obj.at("failure_ratio")),
        );
    }
    if let Some(n) = obj.get("window") {
        ok &= set(&mut cb.window, positive_duration(cx, n, &obj.at("window")));
    }
    if let Some(n) = obj.get("min_requests") {
        let p = obj.at("min_requests");
        ok &= set(&mut cb.min_requests, u32_min(cx, n, &p, 1));
    }
    if let Some(n) = obj.get("cool_down") {
        let p = obj.at("cool_down");
        ok &= set(&mut cb.cool_down, positive_duration(cx, n, &p));
    }
    if let Some(n) = obj.get("half_open_probes") {
        let p = obj.at("half_open_probes");
        ok &= set(&mut cb.half_open_probes, u32_min(cx, n, &p, 1));
    }
    if ok && cb.consecutive_failures == 0 && cb.failure_ratio == 0.0 {
        cx.error_hint(
            node,
            path,
            "this circuit breaker can never open: both triggers are off",
            "set `consecutive_failures` ≥ 1 or `failure_ratio` > 0, or `circuit_breaker: false`",
        );
        return None;
    }
    ok.then_some(Some(cb))
}

/// `bulkhead:` (per upstream or per route) — absent = unlimited, else a map of settings.
pub(crate) fn bulkhead(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<Bulkhead>> {
    if node.is_null() {
        return Some(None);
    }
    let keys = ["max_concurrent", "max_queue", "queue_timeout"];
    let obj = Obj::new(cx, node, path, &keys)?;
    let mut b = Bulkhead::default();
    let mut ok = true;
    if let Some(n) = obj.get("max_concurrent") {
        let p = obj.at("max_concurrent");
        ok &= set(&mut b.max_concurrent, u32_min(cx, n, &p, 1));
    }
    if let Some(n) = obj.get("max_queue") {
        ok &= set(&mut b.max_queue, u32_min(cx, n, &obj.at("max_queue"), 0));
    }
    if let Some(n) = obj.get("queue_timeout") {
        let p = obj.at("queue_timeout");
        ok &= set(&mut b.queue_timeout, duration(cx, n, &p));
    }
    ok.then_some(Some(b))
}

/// `server.load_shedding:` — absent = off; each limit applies only when set.
pub(crate) fn load_shedding(cx: &mut Ctx, node: &Node, path: &str) -> Option<LoadShedding> {
    if node.is_null() {
        return Some(LoadShedding::default());
    }
    let keys = ["max_in_flight", "max_memory", "retry_after"];
    let obj = Obj::new(cx, node, path, &keys)?;
    let mut ls = LoadShedding::default();
    let mut ok = true;
    if let Some(n) = obj.get("max_in_flight") {
        let v = u32_min(cx, n, &obj.at("max_in_flight"), 1);
        ok &= v.is_some();
        ls.max_in_flight = v.map(u64::from);
    }
    if let Some(n) = obj.get("max_memory") {
        let p = obj.at("max_memory");
        match size(cx, n, &p) {
            Some(0) => {
                cx.error_hint(n, &p, "`max_memory` must be above 0", "e.g. `1GiB`");
                ok = false;
            }
            v => {
                ok &= v.is_some();
                ls.max_memory = v;
            }
        }
    }
    if let Some(n) = obj.get("retry_after") {
        let p = obj.at("retry_after");
        let v = positive_duration(cx, n, &p);
        ok &= v.is_some();
        ls.retry_after = v;
    }
    ok.then_some(ls)
}

#[cfg(test)]
mod tests;
