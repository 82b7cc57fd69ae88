//! Active (`health_check:`) and passive (`passive_health:`) health settings of an upstream.

use std::time::Duration;

use crate::file::{Kind, Node};
use crate::model::{HealthCheck, PassiveHealth, StatusRange};
use crate::validate::Ctx;
use crate::validate::listener::set;
use crate::validate::scalar::{boolean, duration, each, non_empty, string, u32_min, url_path};
use crate::validate::walk::{Obj, type_error};

const HEALTH_KEYS: &[&str] = &[
    "path",
    "host",
    "interval",
    "timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "expected_statuses",
];

pub(super) fn health_check(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<HealthCheck>> {
    let mut hc = HealthCheck {
        path: "/healthz".to_owned(),
        host: None,
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        healthy_threshold: 2,
        unhealthy_threshold: 3,
        expected_statuses: vec![StatusRange { from: 200, to: 399 }],
    };
    if let Kind::Bool(on) = node.kind {
        return Some(on.then_some(hc));
    }
    let obj = Obj::new(cx, node, path, HEALTH_KEYS)?;
    let mut ok = true;
    if let Some(n) = obj.get("path") {
        ok &= set(&mut hc.path, url_path(cx, n, &obj.at("path")));
    }
    if let Some(n) = obj.get("host") {
        let host = non_empty(cx, n, &obj.at("host"));
        ok &= host.is_some();
        hc.host = host;
    }
    if let Some(n) = obj.get("interval") {
        ok &= set(&mut hc.interval, duration(cx, n, &obj.at("interval")));
    }
    if let Some(n) = obj.get("timeout") {
        ok &= set(&mut hc.timeout, duration(cx, n, &obj.at("timeout")));
    }
    if let Some(n) = obj.get("healthy_threshold") {
        ok &= set(
            &mut hc.healthy_threshold,
            u32_min(cx, n, &obj.at("healthy_threshold"), 1),
        );
    }
    if let Some(n) = obj.get("unhealthy_threshold") {
        ok &= set(
            &mut hc.unhealthy_threshold,
            u32_min(cx, n, &obj.at("unhealthy_threshold"), 1),
        );
    }
    if let Some(n) = obj.get("expected_statuses") {
        ok &= set(
            &mut hc.expected_statuses,
            each(cx, n, &obj.at("expected_statuses"), status_range),
        );
    }
    ok.then_some(Some(hc))
}

/// `200` or `"200-299"`.
fn status_range(cx: &mut Ctx, node: &Node, path: &str) -> Option<StatusRange> {
    let text = string(cx, node, path)?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|v| (100..=599).contains(v))
    };
    let range = match text.split_once('-') {
        Some((a, b)) => parse(a).zip(parse(b)).filter(|(a, b)| a <= b),
        None => parse(&text).map(|v| (v, v)),
    };
    match range {
        Some((from, to)) => Some(StatusRange { from, to }),
        None => {
            type_error_or_hint(cx, node, path, &text);
            None
        }
    }
}

fn type_error_or_hint(cx: &mut Ctx, node: &Node, path: &str, text: &str) {
    if matches!(node.kind, Kind::Seq(_) | Kind::Map(_)) {
        type_error(cx, node, path, "a status or a range");
    } else {
        cx.error_hint(
            node,
            path,
            format!("invalid status or range `{text}`"),
            "write `200` or `\"200-299\"` (statuses 100 to 599)",
        );
    }
}

pub(super) fn passive(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<PassiveHealth>> {
    if let Kind::Bool(on) = node.kind {
        return Some(on.then(PassiveHealth::default));
    }
    let obj = Obj::new(
        cx,
        node,
        path,
        &["enabled", "consecutive_failures", "ejection_time"],
    )?;
    let mut ph = PassiveHealth::default();
    let mut ok = true;
    let mut enabled = true;
    if let Some(n) = obj.get("enabled") {
        ok &= set(&mut enabled, boolean(cx, n, &obj.at("enabled")));
    }
    if let Some(n) = obj.get("consecutive_failures") {
        ok &= set(
            &mut ph.consecutive_failures,
            u32_min(cx, n, &obj.at("consecutive_failures"), 1),
        );
    }
    if let Some(n) = obj.get("ejection_time") {
        ok &= set(
            &mut ph.ejection_time,
            duration(cx, n, &obj.at("ejection_time")),
        );
    }
    ok.then(|| enabled.then_some(ph))
}
