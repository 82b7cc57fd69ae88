//! `observability.access_log`.

use super::super::Ctx;
use super::super::listener::set;
use super::super::scalar::{boolean, choice, each, non_empty, usize_min};
use super::super::walk::{Obj, type_error};
use super::ratio;
use crate::file::{Kind, Node};
use crate::model::{AccessLog, LogDestination};

/// `access_log: { enabled, format, destination, sample, query, redact_query, buffer }`.
pub(super) fn access_log(cx: &mut Ctx, node: &Node, path: &str) -> Option<AccessLog> {
    let keys = [
        "enabled",
        "format",
        "destination",
        "sample",
        "query",
        "redact_query",
        "buffer",
    ];
    let obj = Obj::new(cx, node, path, &keys)?;
    let mut out = AccessLog {
        enabled: true,
        ..AccessLog::default()
    };
    let mut ok = true;
    if let Some(n) = obj.get("enabled") {
        ok &= set(&mut out.enabled, boolean(cx, n, &obj.at("enabled")));
    }
    if let Some(n) = obj.get("format") {
        ok &= choice(cx, n, &obj.at("format"), &[("json", ())]).is_some();
    }
    if let Some(n) = obj.get("destination") {
        ok &= set(
            &mut out.destination,
            destination(cx, n, &obj.at("destination")),
        );
    }
    if let Some(n) = obj.get("sample") {
        ok &= set(&mut out.sample, ratio(cx, n, &obj.at("sample")));
    }
    if let Some(n) = obj.get("query") {
        ok &= set(&mut out.query, boolean(cx, n, &obj.at("query")));
    }
    if let Some(n) = obj.get("redact_query") {
        let names = each(cx, n, &obj.at("redact_query"), non_empty);
        ok &= set(&mut out.redact_query, names);
    }
    if let Some(n) = obj.get("buffer") {
        ok &= set(&mut out.buffer, usize_min(cx, n, &obj.at("buffer"), 1));
    }
    ok.then_some(out)
}

/// `stdout`, `stderr` or `{ file: path }` (relative to the config file's directory).
fn destination(cx: &mut Ctx, node: &Node, path: &str) -> Option<LogDestination> {
    if let Kind::Map(_) = node.kind {
        let obj = Obj::new(cx, node, path, &["file"])?;
        let file = obj.req(cx, "file")?;
        let name = non_empty(cx, file, &obj.at("file"))?;
        return Some(LogDestination::File(cx.resolve_path(name.trim())));
    }
    if !matches!(node.kind, Kind::Str(_)) {
        type_error(cx, node, path, "`stdout`, `stderr` or `{ file: path }`");
        return None;
    }
    let stderr = choice(cx, node, path, &[("stdout", false), ("stderr", true)])?;
    Some(if stderr {
        LogDestination::Stderr
    } else {
        LogDestination::Stdout
    })
}
