//! The per-request context shared by the data plane and the plugins.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// TLS facts of the client connection.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// SNI the client sent.
    pub server_name: Option<String>,
    /// Negotiated ALPN protocol.
    pub alpn: Option<Vec<u8>>,
}

/// State of one request as it passes the pipeline.
#[derive(Debug)]
pub struct RequestContext {
    /// Request id (propagated from the client when well-formed, else generated).
    pub request_id: String,
    /// TCP peer address.
    pub peer: SocketAddr,
    /// Client IP after trusted-proxy rules (the peer unless it is a trusted proxy).
    pub client_ip: IpAddr,
    /// Scheme the client used (`http` or `https`).
    pub scheme: &'static str,
    /// TLS facts, when the connection is TLS.
    pub tls: Option<TlsInfo>,
    /// Name of the matched route, once routed.
    pub route: Option<Arc<str>>,
    /// Route path parameters (`/users/{id}` → `id`), once routed.
    pub params: Vec<(String, String)>,
    /// When the request head was received.
    pub started: Instant,
    /// Largest request body allowed; plugins may lower it in `on_access`.
    pub max_body_bytes: u64,
    /// Extra response headers plugins want on the final response (e.g. the request id echo).
    pub response_headers: http::HeaderMap,
    /// Why the request was answered early, when it was (for the access log).
    pub short_circuit: Option<&'static str>,
    /// Upstream retries made for this request (tries after the first).
    pub retries: u32,
    /// Per-request plugin state, keyed by type (e.g. what `cors` saw in `on_access` and needs again
    /// in `on_response`). Each plugin uses its own private types. Starts empty.
    pub extensions: http::Extensions,
    /// The authenticated caller, once the access phase's authentication has run.
    pub identity: Option<crate::Identity>,
    /// The client certificate presented on a TLS connection (mTLS), when there was one.
    pub client_cert: Option<std::sync::Arc<ClientCert>>,
    /// W3C trace context of this request (set when the request starts).
    pub trace: TraceContext,
}

/// The request's place in a distributed trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// Trace id (16 bytes; all zero = none yet).
    pub trace_id: [u8; 16],
    /// The gateway's server span for this request.
    pub span_id: [u8; 8],
    /// The caller's span, when a valid trace context arrived.
    pub parent_span_id: Option<[u8; 8]>,
    /// Whether the trace is sampled (spans exported, `01` flag propagated).
    pub sampled: bool,
    /// The incoming `tracestate`, validated, passed on unchanged.
    pub tracestate: Option<String>,
    /// The context arrived as B3: upstream requests also carry a `b3` header.
    pub b3: bool,
}

impl TraceContext {
    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        Self::hex(&self.trace_id)
    }

    /// The server span id as 16 lower-case hex digits.
    pub fn span_id_hex(&self) -> String {
        Self::hex(&self.span_id)
    }

    /// Lower-case hex of an id (or any bytes), as written in `traceparent`.
    pub fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

/// A client certificate as seen by the TLS layer.
#[derive(Debug, Clone, Default)]
pub struct ClientCert {
    /// Whether it chained to a configured CA and is within its validity period.
    pub verified: bool,
    /// Subject common names.
    pub common_names: Vec<String>,
    /// DNS subject alternative names.
    pub dns_sans: Vec<String>,
    /// URI subject alternative names (e.g. SPIFFE ids).
    pub uri_sans: Vec<String>,
    /// The leaf certificate, DER.
    pub der: Vec<u8>,
}

impl RequestContext {
    /// A context for a request from `peer` seen as `client_ip`.
    pub fn new(
        request_id: String,
        peer: SocketAddr,
        client_ip: IpAddr,
        scheme: &'static str,
    ) -> Self {
        RequestContext {
            request_id,
            peer,
            client_ip,
            scheme,
            tls: None,
            route: None,
            params: Vec::new(),
            started: Instant::now(),
            max_body_bytes: u64::MAX,
            response_headers: http::HeaderMap::new(),
            short_circuit: None,
            retries: 0,
            extensions: http::Extensions::new(),
            identity: None,
            client_cert: None,
            trace: TraceContext::default(),
        }
    }
}

/// What the access log and `on_log` hooks see of a finished request.
#[derive(Debug, Clone)]
pub struct LogRecord {
    /// Method.
    pub method: http::Method,
    /// Normalized path (without query).
    pub path: String,
    /// Final status sent to the client.
    pub status: http::StatusCode,
    /// Upstream target that answered, if any.
    pub upstream_target: Option<String>,
    /// Total time until the response head was sent.
    pub latency: Duration,
    /// Time spent waiting for the upstream's response head.
    pub upstream_latency: Option<Duration>,
    /// Upstream retries made (tries after the first).
    pub retries: u32,
}
