//! `observability.tracing`.

use std::collections::BTreeMap;

use super::super::Ctx;
use super::super::scalar::{boolean, choice, non_empty, positive_duration, string, usize_min};
use super::super::walk::{Obj, join};
use super::ratio;
use crate::file::Node;
use crate::model::{OtlpExporter, OtlpProtocol, TraceBatch, Tracing};

/// `tracing: { otlp, sampler: { ratio }, parent_based, batch, service_name }`.
pub(super) fn tracing(cx: &mut Ctx, node: &Node, path: &str) -> Option<Tracing> {
    let keys = ["otlp", "sampler", "parent_based", "batch", "service_name"];
    let obj = Obj::new(cx, node, path, &keys)?;
    let mut out = Tracing::default();
    let mut ok = true;
    if let Some(n) = obj.get("otlp") {
        out.otlp = otlp(cx, n, &obj.at("otlp"));
        ok &= out.otlp.is_some();
    }
    if let Some(n) = obj.get("sampler") {
        let p = obj.at("sampler");
        match Obj::new(cx, n, &p, &["ratio"]).map(|s| s.get("ratio")) {
            Some(Some(r)) => match ratio(cx, r, &join(&p, "ratio")) {
                Some(v) => out.ratio = v,
                None => ok = false,
            },
            Some(None) => {}
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("parent_based") {
        match boolean(cx, n, &obj.at("parent_based")) {
            Some(v) => out.parent_based = v,
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("batch") {
        match batch(cx, n, &obj.at("batch")) {
            Some(b) => out.batch = b,
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("service_name") {
        match non_empty(cx, n, &obj.at("service_name")) {
            Some(v) => out.service_name = v,
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `otlp: { endpoint, protocol, timeout, headers }`.
fn otlp(cx: &mut Ctx, node: &Node, path: &str) -> Option<OtlpExporter> {
    let obj = Obj::new(
        cx,
        node,
        path,
        &["endpoint", "protocol", "timeout", "headers"],
    )?;
    let endpoint = obj
        .req(cx, "endpoint")
        .and_then(|n| endpoint(cx, n, &obj.at("endpoint")));
    let protocol = match obj.get("protocol") {
        Some(n) => choice(
            cx,
            n,
            &obj.at("protocol"),
            &[("grpc", OtlpProtocol::Grpc), ("http", OtlpProtocol::Http)],
        ),
        None => Some(OtlpProtocol::Grpc),
    };
    let timeout = match obj.get("timeout") {
        Some(n) => positive_duration(cx, n, &obj.at("timeout")),
        None => Some(std::time::Duration::from_secs(5)),
    };
    let headers = match obj.get("headers") {
        Some(n) => headers(cx, n, &obj.at("headers")),
        None => Some(BTreeMap::new()),
    };
    Some(OtlpExporter {
        endpoint: endpoint?,
        protocol: protocol?,
        timeout: timeout?,
        headers: headers?,
    })
}

/// An `http://host:port[/path]` URL (TLS to the collector is not supported: run a local agent).
fn endpoint(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = string(cx, node, path)?;
    let url = text.trim();
    let ok = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|auth| auth.rsplit_once(':'))
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
        && url.parse::<http::Uri>().is_ok();
    if !ok {
        cx.error_hint(
            node,
            path,
            format!("invalid OTLP endpoint `{text}`"),
            "write `http://host:port`, e.g. `http://127.0.0.1:4317` (gRPC) or `http://127.0.0.1:4318` (http); TLS is not supported, export to a local collector",
        );
        return None;
    }
    Some(url.to_owned())
}

/// `headers: { name: value }`: names and values valid in HTTP.
fn headers(cx: &mut Ctx, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
    let obj = Obj::any_keys(cx, node, path, "a map of header name to value")?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, key, value) in obj.entries() {
        let p = join(path, &name);
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            cx.error(key, &p, format!("invalid header name `{name}`"));
            ok = false;
            continue;
        }
        match string(cx, value, &p) {
            Some(v) if http::HeaderValue::from_str(&v).is_ok() => {
                out.insert(lower, v);
            }
            Some(_) => {
                cx.error(value, &p, "invalid header value");
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `batch: { max_queue, max_batch, delay }`.
fn batch(cx: &mut Ctx, node: &Node, path: &str) -> Option<TraceBatch> {
    let obj = Obj::new(cx, node, path, &["max_queue", "max_batch", "delay"])?;
    let d = TraceBatch::default();
    let max_queue = match obj.get("max_queue") {
        Some(n) => usize_min(cx, n, &obj.at("max_queue"), 1),
        None => Some(d.max_queue),
    };
    let max_batch = match obj.get("max_batch") {
        Some(n) => usize_min(cx, n, &obj.at("max_batch"), 1),
        None => Some(d.max_batch),
    };
    let delay = match obj.get("delay") {
        Some(n) => positive_duration(cx, n, &obj.at("delay")),
        None => Some(d.delay),
    };
    Some(TraceBatch {
        max_queue: max_queue?,
        max_batch: max_batch?,
        delay: delay?,
    })
}
