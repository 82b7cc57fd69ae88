//! A real OTLP trace receiver: gRPC `TraceService/Export` (tonic's server codec over h2c) and
//! OTLP/HTTP `POST /v1/traces` (protobuf) on one port. Requests are decoded with the
//! OpenTelemetry project's generated types (`opentelemetry-proto`) and kept for assertions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use tonic::server::{Grpc, UnaryService};
use tonic_prost::ProstCodec;

use crate::upstream::{HttpMode, ResponseBody, Upstream, spawn_http};

/// gRPC path of `TraceService/Export`.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// One span as received, ids in lower-case hex, attribute values as text.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, or empty for a root span.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// `2` = server, `3` = client.
    pub kind: i32,
    /// Attributes (strings as is, integers and booleans formatted).
    pub attributes: BTreeMap<String, String>,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Status code (`2` = error).
    pub status_code: i32,
    /// `grpc` or `http`: how it arrived.
    pub transport: &'static str,
    /// `tracestate` of the span.
    pub trace_state: String,
}

impl ReceivedSpan {
    /// The attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// A running receiver; dropping it stops the server.
pub struct OtlpReceiver {
    /// The server.
    pub upstream: Upstream,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

impl OtlpReceiver {
    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        self.upstream.url()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits up to `limit` until at least `n` spans arrived; returns what arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<ReceivedSpan> {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let spans = self.spans();
            if spans.len() >= n || tokio::time::Instant::now() >= end {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts a receiver on `127.0.0.1:0` speaking OTLP/gRPC and OTLP/HTTP.
pub async fn spawn_otlp() -> OtlpReceiver {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let store = spans.clone();
    let upstream = spawn_http(HttpMode::Auto, move |req, _| {
        let store = store.clone();
        async move { route(req, store).await }
    })
    .await;
    OtlpReceiver { upstream, spans }
}

async fn route(
    req: http::Request<Incoming>,
    store: Arc<Mutex<Vec<ReceivedSpan>>>,
) -> http::Response<ResponseBody> {
    match req.uri().path() {
        EXPORT_PATH => {
            let response = Grpc::new(ProstCodec::default())
                .unary(Export(store), req)
                .await;
            response.map(|b| b.map_err(Into::into).boxed_unsync())
        }
        "/v1/traces" => {
            let body = req.into_body().collect().await.map(|c| c.to_bytes());
            let decoded = body
                .ok()
                .and_then(|b| ExportTraceServiceRequest::decode(b).ok());
            let (status, reply) = match decoded {
                Some(request) => {
                    keep(&store, &request, "http");
                    let reply = ExportTraceServiceResponse::default().encode_to_vec();
                    (200, Bytes::from(reply))
                }
                None => (400, Bytes::from_static(b"undecodable")),
            };
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-protobuf")
                .body(Full::new(reply).map_err(Into::into).boxed_unsync())
                .unwrap_or_default()
        }
        _ => http::Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()).map_err(Into::into).boxed_unsync())
            .unwrap_or_default(),
    }
}

struct Export(Arc<Mutex<Vec<ReceivedSpan>>>);

impl UnaryService<ExportTraceServiceRequest> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<ExportTraceServiceRequest>) -> Self::Future {
        keep(&self.0, request.get_ref(), "grpc");
        Box::pin(async { Ok(tonic::Response::new(ExportTraceServiceResponse::default())) })
    }
}

fn keep(
    store: &Mutex<Vec<ReceivedSpan>>,
    request: &ExportTraceServiceRequest,
    transport: &'static str,
) {
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        let resource = rs.resource.as_ref().map(|r| attributes(&r.attributes));
        let service_name = resource
            .and_then(|mut r| r.remove("service.name"))
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(ReceivedSpan {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: s.kind,
                    attributes: attributes(&s.attributes),
                    service_name: service_name.clone(),
                    status_code: s.status.as_ref().map_or(0, |st| st.code),
                    transport,
                    trace_state: s.trace_state.clone(),
                });
            }
        }
    }
    if let Ok(mut spans) = store.lock() {
        spans.extend(out);
    }
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
