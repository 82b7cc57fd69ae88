//! The batching OTLP exporter: spans go through a bounded channel (full = dropped and counted,
//! never waited for) to one task that sends a batch when it has `max_batch` spans or `delay` has
//! passed since the first span of the batch. One export is in flight at a time; a failed export
//! is logged and its spans counted as dropped (no retry, no unbounded memory).

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use gatehouse_config::model::{OtlpExporter, OtlpProtocol, Tracing};
use gatehouse_metrics::{Collector, Counter, Encoder};
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use tokio::sync::mpsc;

use super::otlp::{self, InstrumentationScope, Resource};
use super::wire::{self, EncodedSpan};

/// gRPC method path of `TraceService/Export`.
const GRPC_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Counters of the exporter, exposed on `/metrics`.
#[derive(Default)]
pub(crate) struct ExportCounters {
    exported: Counter,
    queue_full: Counter,
    failed: Counter,
}

impl Collector for ExportCounters {
    fn collect(&self, out: &mut Encoder) {
        let help = "Spans sent to the OTLP receiver";
        out.counter(
            "gatehouse_trace_spans_exported",
            help,
            &[],
            self.exported.get(),
        );
        let help = "Spans not exported: queue full, or the export call failed";
        let reason = |r| [("reason", r)];
        let dropped = "gatehouse_trace_spans_dropped";
        out.counter(dropped, help, &reason("queue_full"), self.queue_full.get());
        out.counter(dropped, help, &reason("export_failed"), self.failed.get());
    }
}

/// The sending side of an exporter; dropping every clone ends the task after a last flush.
pub(crate) struct Exporter {
    tx: mpsc::Sender<EncodedSpan>,
    counters: Arc<ExportCounters>,
    /// Kept for reuse checks across reloads.
    pub(crate) settings: Tracing,
    /// Keeps the collector registered while the exporter lives.
    _collector: Arc<dyn Collector>,
}

impl Exporter {
    /// Starts the export task for `otlp`; `None` outside a Tokio runtime.
    pub(crate) fn start(
        settings: &Tracing,
        otlp: &OtlpExporter,
        registry: &gatehouse_metrics::Registry,
    ) -> Option<Exporter> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: spans are not exported");
            return None;
        };
        let (tx, rx) = mpsc::channel(settings.batch.max_queue);
        let counters = Arc::new(ExportCounters::default());
        let collector: Arc<dyn Collector> = counters.clone();
        registry.register(&collector);
        let task = Task {
            rx,
            otlp: otlp.clone(),
            max_batch: settings.batch.max_batch,
            delay: settings.batch.delay,
            resource: resource(&settings.service_name),
            client: client(otlp.protocol),
            counters: counters.clone(),
        };
        runtime.spawn(task.run());
        Some(Exporter {
            tx,
            counters,
            settings: settings.clone(),
            _collector: collector,
        })
    }

    /// Queues `span`; drops and counts it when the queue is full.
    pub(crate) fn send(&self, span: EncodedSpan) {
        if self.tx.try_send(span).is_err() {
            self.counters.queue_full.inc();
        }
    }
}

fn resource(service_name: &str) -> Resource {
    Resource {
        attributes: vec![
            otlp::string("service.name", service_name),
            otlp::string("telemetry.sdk.name", "gatehouse"),
            otlp::string("service.version", env!("CARGO_PKG_VERSION")),
        ],
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client(protocol: OtlpProtocol) -> HttpClient {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_idle_timeout(Duration::from_secs(30));
    if protocol == OtlpProtocol::Grpc {
        builder.http2_only(true);
    }
    builder.build(HttpConnector::new())
}

/// How often a filling batch takes the spans queued meanwhile.
const GATHER: Duration = Duration::from_millis(5);

struct Task {
    rx: mpsc::Receiver<EncodedSpan>,
    otlp: OtlpExporter,
    max_batch: usize,
    delay: Duration,
    resource: Resource,
    client: HttpClient,
    counters: Arc<ExportCounters>,
}

impl Task {
    async fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch.min(1024));
        loop {
            // Wait for the first span of a batch, then fill it until full or `delay` passed.
            let Some(first) = self.rx.recv().await else {
                break;
            };
            batch.push(first);
            let deadline = tokio::time::Instant::now() + self.delay;
            let mut closed = false;
            // Take what is queued every `GATHER` (not one wake-up per span) until the batch is
            // full or `delay` has passed.
            while batch.len() < self.max_batch {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    break;
                }
                tokio::time::sleep_until(deadline.min(now + GATHER)).await;
                while batch.len() < self.max_batch {
                    match self.rx.try_recv() {
                        Ok(span) => batch.push(span),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    }
                }
                if closed {
                    break;
                }
            }
            self.export(std::mem::take(&mut batch)).await;
            if closed {
                return;
            }
        }
    }

    async fn export(&self, spans: Vec<EncodedSpan>) {
        let n = spans.len() as u64;
        let request = encode_request(&self.resource, &spans);
        drop(spans);
        let result = tokio::time::timeout(self.otlp.timeout, self.send(request)).await;
        match result {
            Ok(Ok(())) => self.counters.exported.add(n),
            Ok(Err(e)) => {
                self.counters.failed.add(n);
                tracing::warn!(endpoint = %self.otlp.endpoint, error = %e, spans = n, "OTLP export failed");
            }
            Err(_) => {
                self.counters.failed.add(n);
                tracing::warn!(endpoint = %self.otlp.endpoint, spans = n, "OTLP export timed out");
            }
        }
    }

    async fn send(&self, encoded: Vec<u8>) -> Result<(), String> {
        let base = self.otlp.endpoint.trim_end_matches('/');
        let (uri, content_type, body) = match self.otlp.protocol {
            OtlpProtocol::Grpc => {
                let mut framed = BytesMut::with_capacity(encoded.len() + 5);
                framed.put_u8(0);
                framed.put_u32(encoded.len() as u32);
                framed.put_slice(&encoded);
                (
                    format!("{base}{GRPC_PATH}"),
                    "application/grpc",
                    framed.freeze(),
                )
            }
            OtlpProtocol::Http => {
                let has_path = base
                    .strip_prefix("http://")
                    .is_some_and(|rest| rest.contains('/'));
                let uri = if has_path {
                    base.to_owned()
                } else {
                    format!("{base}/v1/traces")
                };
                (uri, "application/x-protobuf", Bytes::from(encoded))
            }
        };
        let uri: Uri = uri.parse().map_err(|_| "invalid endpoint".to_owned())?;
        let mut req = Request::post(uri)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        if self.otlp.protocol == OtlpProtocol::Grpc {
            req.headers_mut()
                .insert(http::header::TE, HeaderValue::from_static("trailers"));
        }
        for (name, value) in &self.otlp.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                req.headers_mut().insert(n, v);
            }
        }
        let response = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let head_grpc = grpc_status(response.headers());
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("receiver answered {status}"));
        }
        if self.otlp.protocol == OtlpProtocol::Grpc {
            let code = head_grpc.or_else(|| collected.trailers().and_then(grpc_status));
            match code {
                Some(0) => {}
                Some(c) => return Err(format!("grpc-status {c}")),
                None => return Err("no grpc-status".to_owned()),
            }
        }
        Ok(())
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// The encoded `ExportTraceServiceRequest` { `ResourceSpans` { resource, `ScopeSpans` {
/// scope, spans } } } of a batch.
pub(super) fn encode_request(resource_message: &Resource, spans: &[EncodedSpan]) -> Vec<u8> {
    let resource = resource_message.encoded_len();
    let resource = 1 + wire::varint_len(resource as u64) + resource;
    let scope = InstrumentationScope {
        name: "gatehouse".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let scope_len = scope.encoded_len();
    let spans_len: usize = spans
        .iter()
        .map(|s| 1 + wire::varint_len(s.0.len() as u64) + s.0.len())
        .sum();
    let scope_spans = 1 + wire::varint_len(scope_len as u64) + scope_len + spans_len;
    let resource_spans = resource + 1 + wire::varint_len(scope_spans as u64) + scope_spans;
    let mut b = Vec::with_capacity(resource_spans + 16);
    wire::key(&mut b, 1, 2);
    wire::varint(&mut b, resource_spans as u64);
    wire::key(&mut b, 1, 2);
    wire::varint(&mut b, resource_message.encoded_len() as u64);
    resource_message.encode_raw(&mut b);
    wire::key(&mut b, 2, 2);
    wire::varint(&mut b, scope_spans as u64);
    wire::key(&mut b, 1, 2);
    wire::varint(&mut b, scope_len as u64);
    scope.encode_raw(&mut b);
    for span in spans {
        wire::bytes(&mut b, 2, &span.0);
    }
    b
}
