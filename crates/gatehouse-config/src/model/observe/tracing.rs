//! `observability.tracing`: W3C trace context propagation, sampling and OTLP export.

use std::collections::BTreeMap;
use std::time::Duration;

/// Tracing settings. Propagation (`traceparent`, `tracestate`, B3 input) is always on; spans are
/// exported only when [`Tracing::otlp`] is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// Where spans go; `None` = not exported (and requests without a sampled parent are not
    /// sampled).
    pub otlp: Option<OtlpExporter>,
    /// Share of new traces (no incoming parent) that are sampled, 0.0–1.0. Default 1.0.
    pub ratio: f64,
    /// Follow the incoming parent's sampled flag when there is one. Default true; false = the
    /// ratio decides for every request.
    pub parent_based: bool,
    /// Batching of the exporter.
    pub batch: TraceBatch,
    /// `service.name` resource attribute. Default `gatehouse`.
    pub service_name: String,
}

impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            otlp: None,
            ratio: 1.0,
            parent_based: true,
            batch: TraceBatch::default(),
            service_name: "gatehouse".to_owned(),
        }
    }
}

/// OTLP exporter settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpExporter {
    /// `http://host:port` (gRPC) or `http://host:port[/v1/traces]` (HTTP/protobuf).
    pub endpoint: String,
    /// Transport. Default gRPC.
    pub protocol: OtlpProtocol,
    /// Time limit of one export call. Default 5 s.
    pub timeout: Duration,
    /// Extra request headers (e.g. an API key of a hosted collector).
    pub headers: BTreeMap<String, String>,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (`TraceService/Export` over HTTP/2 without TLS).
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`POST /v1/traces`).
    Http,
}

/// Exporter batching.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceBatch {
    /// Spans waiting for export at most; more are dropped and counted. Default 2048.
    pub max_queue: usize,
    /// Spans per export call at most. Default 512.
    pub max_batch: usize,
    /// Longest wait before a partial batch is sent. Default 1 s.
    pub delay: Duration,
}

impl Default for TraceBatch {
    fn default() -> Self {
        TraceBatch {
            max_queue: 2048,
            max_batch: 512,
            delay: Duration::from_secs(1),
        }
    }
}
