//! Distributed tracing: the W3C trace context of each request (read from `traceparent` or B3,
//! else a new trace), sampling (parent-based + ratio), a server span per request and a client
//! span per upstream attempt, exported over OTLP by [`export`].
//!
//! Spans are built by the pipeline itself (not through `tracing` spans): the driver knows when a
//! request starts, when each attempt starts and ends and when the response body is done.

mod export;
mod otlp;
pub(crate) mod propagation;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use gatehouse_config::Config;
use gatehouse_config::model::PathMatch;
use gatehouse_metrics::Registry;
use gatehouse_plugins::{LogRecord, RequestContext, TraceContext};
use http::{HeaderMap, Response};

use export::Exporter;
use wire::{SpanHead, SpanWriter};

/// `SPAN_KIND_SERVER`.
const KIND_SERVER: i32 = 2;
/// `SPAN_KIND_CLIENT`.
const KIND_CLIENT: i32 = 3;

/// The tracing of one snapshot: sampler settings, route templates and the exporter (shared with
/// the previous snapshot while `tracing:` is unchanged).
pub(crate) struct Tracer {
    ratio: f64,
    parent_based: bool,
    exporter: Option<Arc<Exporter>>,
    /// Route name → (path template, upstream cluster).
    routes: HashMap<String, (Option<String>, String)>,
}

impl Tracer {
    /// The tracer for `config`, reusing `previous`'s exporter when the settings are the same.
    pub(crate) fn build(config: &Config, previous: Option<&Tracer>, registry: &Registry) -> Tracer {
        let settings = &config.observability.tracing;
        let reused = previous
            .and_then(|p| p.exporter.clone())
            .filter(|e| e.settings == *settings);
        let exporter = match (&settings.otlp, reused) {
            (None, _) => None,
            (Some(_), Some(e)) => Some(e),
            (Some(otlp), None) => Exporter::start(settings, otlp, registry).map(Arc::new),
        };
        let routes = config
            .routes
            .iter()
            .map(|r| {
                let template = match r.matcher.path.as_ref() {
                    Some(PathMatch::Exact(p) | PathMatch::Template(p)) => Some(p.clone()),
                    Some(PathMatch::Prefix(p)) => Some(format!("{}/*", p.trim_end_matches('/'))),
                    Some(PathMatch::Regex(_)) | None => None,
                };
                (r.name.clone(), (template, r.upstream.clone()))
            })
            .collect();
        Tracer {
            ratio: settings.ratio,
            parent_based: settings.parent_based,
            exporter,
            routes,
        }
    }

    /// The trace context of a new request: continues a valid incoming one (W3C or B3), else
    /// starts a trace. The server span gets a fresh id either way.
    pub(crate) fn start(&self, headers: &HeaderMap) -> TraceContext {
        let incoming = propagation::extract(headers);
        let trace_id = incoming
            .as_ref()
            .map_or_else(|| nonzero(rand::random::<[u8; 16]>()), |i| i.trace_id);
        let decided = incoming.as_ref().and_then(|i| i.sampled);
        let sampled = match decided {
            Some(parent) if self.parent_based => parent,
            _ => self.exporter.is_some() && self.ratio_sample(&trace_id),
        };
        TraceContext {
            trace_id,
            span_id: nonzero(rand::random::<[u8; 8]>()),
            parent_span_id: incoming.as_ref().map(|i| i.span_id),
            sampled,
            tracestate: incoming.as_ref().and_then(|i| i.tracestate.clone()),
            b3: incoming.is_some_and(|i| i.b3),
        }
    }

    /// Sets `cx.trace` from `headers` and, when the request is sampled and exported, lets its
    /// upstream attempts record spans.
    pub(crate) fn begin(&self, cx: &mut RequestContext, headers: &HeaderMap) {
        cx.trace = self.start(headers);
        if let Some(e) = self.exporter.as_ref().filter(|_| cx.trace.sampled) {
            cx.extensions.insert(Recording(e.clone()));
        }
    }

    /// The OpenTelemetry `TraceIdRatioBased` decision: the trace id's low 8 bytes below
    /// `ratio × 2⁶⁴`, so every hop with the same ratio decides alike.
    fn ratio_sample(&self, trace_id: &[u8; 16]) -> bool {
        if self.ratio >= 1.0 {
            return true;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&trace_id[8..]);
        (u64::from_be_bytes(low) as f64) < self.ratio * (u64::MAX as f64)
    }

    /// Whether spans of `trace` are exported.
    pub(crate) fn records(&self, trace: &TraceContext) -> bool {
        trace.sampled && self.exporter.is_some()
    }

    /// Ends the server span of a finished request.
    pub(crate) fn end_request(
        &self,
        cx: &RequestContext,
        record: &LogRecord,
        facts: &RequestFacts,
    ) {
        let Some(exporter) = self.exporter.as_ref().filter(|_| self.records(&cx.trace)) else {
            return;
        };
        let route = cx.route.as_deref();
        let found = route.and_then(|r| self.routes.get(r));
        let template = found.and_then(|(t, _)| t.as_ref());
        let cluster = found.map(|(_, c)| c.as_str());
        let method = record.method.as_str();
        let name = [method, template.map_or("", String::as_str)];
        let mut w = SpanWriter::new(&SpanHead {
            trace: &cx.trace,
            span_id: cx.trace.span_id,
            parent: cx.trace.parent_span_id,
            name: &name,
            kind: KIND_SERVER,
            times: times(facts.started),
        });
        w.str("http.request.method", method);
        w.str("url.path", record.path.as_str());
        w.str("url.scheme", cx.scheme);
        w.int("http.response.status_code", record.status.as_u16().into());
        let mut ip = [0u8; crate::access_log::IP_MAX];
        w.str(
            "client.address",
            crate::access_log::ip_text(cx.client_ip, &mut ip),
        );
        w.str("network.protocol.version", facts.protocol);
        w.str("gatehouse.request_id", cx.request_id.as_str());
        let optional = [
            ("http.route", template.map(String::as_str)),
            ("server.address", facts.host.as_deref()),
            ("user_agent.original", facts.user_agent.as_deref()),
            ("gatehouse.route", route),
            ("gatehouse.consumer", consumer(cx)),
            ("gatehouse.upstream.cluster", cluster),
            ("gatehouse.short_circuit", cx.short_circuit),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                w.str(key, v);
            }
        }
        let error = record.status.is_server_error();
        if error {
            w.str("error.type", record.status.as_str());
        }
        exporter.send(w.finish(error, u32::from(cx.trace.sampled)));
    }
}

/// The caller's consumer id, once authenticated.
pub(crate) fn consumer(cx: &RequestContext) -> Option<&str> {
    cx.identity.as_ref().and_then(|i| i.consumer_id.as_deref())
}

/// Facts of the request head kept for the server span and the access log.
#[derive(Debug)]
pub(crate) struct RequestFacts {
    /// Wall-clock start.
    pub(crate) started: SystemTime,
    /// `Host` (or the authority), without port.
    pub(crate) host: Option<String>,
    /// `User-Agent`.
    pub(crate) user_agent: Option<String>,
    /// `1.0`, `1.1` or `2`.
    pub(crate) protocol: &'static str,
    /// The raw query string, when there is one.
    pub(crate) query: Option<String>,
    /// Declared request body size.
    pub(crate) content_length: Option<u64>,
    /// The response's `X-Cache` value.
    pub(crate) cache: Option<String>,
}

/// The exporter of a sampled request, kept in the request's extensions for its attempts.
#[derive(Clone)]
struct Recording(Arc<Exporter>);

/// A client span for one upstream attempt, started when the request is sent.
pub(crate) struct Attempt {
    span_id: [u8; 8],
    started: SystemTime,
    retry: u32,
    target: String,
    method: http::Method,
    recording: Option<Recording>,
}

impl Attempt {
    /// Gives the attempt a span id and writes the upstream request's trace headers
    /// (`traceparent` naming this attempt as parent; `tracestate` and `b3` as documented).
    /// The retry number is `cx.retries` at this point.
    pub(crate) fn start(
        cx: &RequestContext,
        target: &str,
        parts: &mut http::request::Parts,
    ) -> Attempt {
        let span_id = nonzero(rand::random::<[u8; 8]>());
        let t = &cx.trace;
        propagation::inject(
            &mut parts.headers,
            &t.trace_id,
            &span_id,
            t.sampled,
            t.tracestate.as_deref(),
            t.b3,
        );
        Attempt {
            span_id,
            started: SystemTime::now(),
            retry: cx.retries,
            target: target.to_owned(),
            method: parts.method.clone(),
            recording: cx.extensions.get::<Recording>().cloned(),
        }
    }

    /// Ends the attempt's span with the upstream's status or the error.
    pub(crate) fn end<B>(
        self,
        cx: &RequestContext,
        result: &Result<Response<B>, gatehouse_upstream::UpstreamError>,
    ) {
        let Some(Recording(exporter)) = &self.recording else {
            return;
        };
        let (host, port) = match self.target.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<i64>().ok()),
            None => (self.target.as_str(), None),
        };
        let mut w = SpanWriter::new(&SpanHead {
            trace: &cx.trace,
            span_id: self.span_id,
            parent: Some(cx.trace.span_id),
            name: &[self.method.as_str()],
            kind: KIND_CLIENT,
            times: times(self.started),
        });
        w.str("http.request.method", self.method.as_str());
        w.str("server.address", host.trim_matches(['[', ']']));
        w.int("gatehouse.retry", self.retry.into());
        if let Some(port) = port {
            w.int("server.port", port);
        }
        if self.retry > 0 {
            w.int("http.request.resend_count", self.retry.into());
        }
        let status = result.as_ref().ok().map(Response::status);
        let error = match (result, &status) {
            (_, Some(s)) => {
                w.int("http.response.status_code", s.as_u16().into());
                s.is_server_error().then_some(s.as_str())
            }
            (Err(e), None) if e.is_timeout() => Some("timeout"),
            _ => Some("upstream_error"),
        };
        if let Some(e) = error {
            w.str("error.type", e);
        }
        if let Some(route) = cx.route.as_deref() {
            w.str("gatehouse.route", route);
        }
        exporter.send(w.finish(error.is_some(), u32::from(cx.trace.sampled)));
    }
}

/// Start (`start`) and end (now) in Unix nanoseconds; the end never before the start.
fn times(start: SystemTime) -> (u64, u64) {
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    };
    let start = nanos(start);
    (start, nanos(SystemTime::now()).max(start))
}

/// `id`, or a fixed non-zero id in the (2⁻⁶⁴) case that it is all zero.
fn nonzero<const N: usize>(mut id: [u8; N]) -> [u8; N] {
    if id == [0; N] {
        id[N - 1] = 1;
    }
    id
}

#[cfg(test)]
mod tests;
