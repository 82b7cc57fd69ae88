//! The pipeline driver: one function takes a client request through every phase to the upstream
//! and back.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_plugins::{Chain, Flow, LogRecord, RequestContext};
use gatehouse_router::{RouteRequest, host_of, normalize_path_with};
use gatehouse_upstream::{ProxyBody, Selected};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::Error;
use crate::body::{DoneBody, OnDone, full};
use crate::cache_stage;
use crate::forwarding::{self, X_REQUEST_ID};
use crate::listener::{Activity, ConnCtx, ListenerCtx};
use crate::snapshot::Snapshot;
use crate::upstream_call::{self, Answer, Call};

/// The body of every response the gateway sends.
pub type ResponseBody = DoneBody<Finish>;

/// What the log phase needs once a response is over.
pub struct Finish {
    chain: Arc<Chain>,
    cx: RequestContext,
    record: LogRecord,
    activity: Arc<Activity>,
    _target: Option<Selected>,
    usage: Option<Arc<crate::usage::Usage>>,
    meter: crate::metrics::Meter,
    observed: crate::access_log::Observed,
}

impl OnDone for Finish {
    fn done(&mut self) {
        self.chain.on_log(&self.cx, &self.record);
        self.observed.finish(&self.cx, &self.record);
        let r = &self.record;
        tracing::debug!(
            target: "gatehouse::access",
            request_id = %self.cx.request_id,
            client = %self.cx.client_ip,
            method = %r.method,
            path = %r.path,
            status = r.status.as_u16(),
            route = self.cx.route.as_deref().unwrap_or("-"),
            upstream = r.upstream_target.as_deref().unwrap_or("-"),
            latency_us = r.latency.as_micros() as u64,
            "request"
        );
        self.activity.end();
        crate::usage::record(self.usage.as_deref(), &self.cx, self.record.status);
        let r = &self.record;
        let total = self.cx.started.elapsed();
        (self.meter).finish(
            &r.method,
            r.status,
            self.cx.short_circuit,
            total,
            r.upstream_latency,
        );
    }

    fn data(&mut self, len: usize) {
        self.observed.data(len);
        self.meter.data(len);
    }
}

/// A response on its way back, with the target that produced it (kept in flight until the body ends).
struct Proxied {
    response: Response<ProxyBody>,
    target: Option<Selected>,
    upstream_latency: Option<Duration>,
}

impl Proxied {
    fn local(response: http::Response<Bytes>) -> Proxied {
        Proxied {
            response: response.map(full),
            target: None,
            upstream_latency: None,
        }
    }
}

/// Handles one client request.
pub(crate) async fn handle(
    mut req: Request<Incoming>,
    conn: Arc<ConnCtx>,
) -> Result<Response<ResponseBody>, Infallible> {
    conn.activity.begin();
    let snapshot = conn.listener.shared.snapshot.load_full();
    let mut meter = crate::metrics::Meter::begin(&conn.listener.metrics, &snapshot.meters);
    let http1 = req.version() < Version::HTTP_2;
    // Only a WebSocket handshake may become a tunnel, and only on a route that allows it
    // (`forward`); any other upgrade (`h2c` included) is stripped and proxied as plain HTTP.
    let on_upgrade = (req.version() == Version::HTTP_11
        && forwarding::is_websocket_handshake(req.method(), req.headers()))
    .then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let trusted = &snapshot.config.server.trusted_proxies;
    let client_ip = forwarding::client_ip(conn.peer.ip(), &parts.headers, trusted);
    let request_id = incoming_request_id(&parts.headers).unwrap_or_else(generate_request_id);
    let mut cx = RequestContext::new(request_id, conn.peer, client_ip, conn.listener.scheme);
    cx.tls = conn.tls.clone();
    cx.client_cert = conn.client_cert.clone();
    cx.max_body_bytes = conn.listener.max_body_bytes;
    let method = parts.method.clone();
    let mut path = String::new();
    let observed = crate::access_log::Observed::begin(&snapshot, &mut cx, &parts);

    let (chain, outcome) = pipeline(
        &snapshot, &conn, &mut cx, parts, body, on_upgrade, &mut path, &mut meter,
    )
    .await;
    let Proxied {
        response,
        target,
        upstream_latency,
    } = outcome.unwrap_or_else(|e| {
        log_error(&cx, &e);
        cx.short_circuit.get_or_insert(error_reason(&e));
        Proxied::local(e.to_response(&cx.request_id))
    });

    let (mut head, body) = response.into_parts();
    for (name, value) in cx
        .response_headers
        .drain()
        .filter_map(|(n, v)| n.map(|n| (n, v)))
    {
        head.headers.append(name, value);
    }
    if let Err(e) = chain.on_response(&mut cx, &mut head).await {
        log_error(&cx, &Error::Plugin(e));
    }
    if http1 && conn.activity.framing.conflict() {
        // The connection's framing cannot be trusted: hyper closes it after this response.
        head.headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let record = LogRecord {
        method,
        path,
        status: head.status,
        upstream_target: target.as_ref().map(|t| t.address().to_owned()),
        latency: cx.started.elapsed(),
        upstream_latency,
        retries: cx.retries,
    };
    let finish = Finish {
        chain,
        cx,
        record,
        activity: conn.activity.clone(),
        _target: target,
        usage: snapshot.usage.clone(),
        meter,
        observed: observed.respond(&head.headers),
    };
    Ok(Response::from_parts(head, DoneBody::new(body, finish)))
}

/// Every phase up to the response head. Returns the chain whose response and log phases apply.
#[allow(clippy::too_many_arguments)]
async fn pipeline(
    snapshot: &Snapshot,
    conn: &ConnCtx,
    cx: &mut RequestContext,
    mut parts: http::request::Parts,
    body: Incoming,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    log_path: &mut String,
    meter: &mut crate::metrics::Meter,
) -> (Arc<Chain>, Result<Proxied, Error>) {
    let global = snapshot.global.clone();
    if let Err(e) = snapshot.shed.admit(cx) {
        return (global, Err(e));
    }
    if head_too_large(&parts, &conn.listener) {
        parts.uri.path().clone_into(log_path);
        return (global, Err(Error::HeadTooLarge));
    }
    // hyper drops `Content-Length` when `Transfer-Encoding` is present, so the pair is seen by the
    // connection's framing scanner (`listener::framing`), not here.
    if conn.activity.framing.conflict()
        || (parts.headers.contains_key(header::CONTENT_LENGTH)
            && parts.headers.contains_key(header::TRANSFER_ENCODING))
    {
        return (
            global,
            Err(Error::BadRequest(
                "both Content-Length and Transfer-Encoding",
            )),
        );
    }
    if let Err(refusal) = forwarding::check_transfer_encoding(&parts.headers) {
        conn.activity.framing.refuse_connection();
        parts.uri.path().clone_into(log_path);
        return (global, Err(Error::BadRequest(refusal)));
    }
    // One authority for routing, authorization, `Host` and `X-Forwarded-Host`.
    let authority = match crate::authority::request_authority(&parts) {
        Ok(authority) => authority,
        Err(refusal) => {
            parts.uri.path().clone_into(log_path);
            return (global, Err(Error::BadRequest(refusal)));
        }
    };
    // Before routing: with `server.method_override: honor` the overridden method is what routes
    // match on, plugins see and the upstream gets; the override headers are stripped either way.
    if let Err(reason) = snapshot.identity.override_method(&mut parts) {
        parts.uri.path().clone_into(log_path);
        return (global, Err(Error::BadRequest(reason)));
    }
    snapshot.identity.strip(&mut parts.headers);
    // `server.paths` decides which spellings are refused (400) or stripped; the path routed is
    // the path forwarded.
    let path = match normalize_path_with(parts.uri.path(), &snapshot.config.server.paths) {
        Ok(p) => p.into_owned(),
        Err(refused) => {
            parts.uri.path().clone_into(log_path);
            return (global, Err(Error::BadRequest(refused.reason())));
        }
    };
    *log_path = path;
    match global.on_request(cx, &mut parts).await {
        Ok(Flow::Continue) => {}
        Ok(Flow::Respond(r)) => return (global, Ok(Proxied::local(r))),
        Err(e) => return (global, Err(e.into())),
    }
    let routed = {
        let host = authority
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .map(host_of);
        snapshot
            .routes
            .find(&RouteRequest {
                host: host.as_deref(),
                path: log_path.as_str(),
                method: &parts.method,
                headers: &parts.headers,
                query: parts.uri.query(),
            })
            .map(|m| (m.index, m.params, m.upstream_path.into_owned()))
    };
    let Some((index, params, upstream_path)) = routed else {
        return (global, Err(Error::NoRoute));
    };
    let entry = &snapshot.entries[index];
    meter.route(&entry.metrics);
    cx.route = Some(entry.name.clone());
    cx.params = params;
    let chain = entry.chain.clone();
    let result = forward(
        snapshot,
        conn,
        cx,
        parts,
        body,
        on_upgrade,
        entry,
        &chain,
        &upstream_path,
        authority,
    )
    .await;
    (chain, result)
}

/// From the access phase to the upstream's response head.
#[allow(clippy::too_many_arguments)]
async fn forward(
    snapshot: &Snapshot,
    conn: &ConnCtx,
    cx: &mut RequestContext,
    mut parts: http::request::Parts,
    body: Incoming,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    entry: &crate::snapshot::RouteEntry,
    chain: &Chain,
    upstream_path: &str,
    authority: Option<HeaderValue>,
) -> Result<Proxied, Error> {
    if let Flow::Respond(r) = chain.on_access(cx, &mut parts).await? {
        return Ok(Proxied::local(r));
    }
    let (fill, stale) = match cache_stage::lookup(chain, cx, &mut parts).await {
        cache_stage::Step::Answer(r) => return Ok(Proxied::local(r)),
        cache_stage::Step::Go(fill, stale) => (fill, stale),
    };
    let limit = cx.max_body_bytes.min(conn.listener.max_body_bytes);
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(Error::BodyTooLarge);
    }

    let on_upgrade = on_upgrade.filter(|_| entry.websocket);
    let upgrade = on_upgrade.is_some();
    forwarding::strip_hop_by_hop(&mut parts.headers, true, upgrade);
    // After hop-by-hop removal, so that `Connection: x-user-id` cannot remove what we set.
    if let Some(identity) = &cx.identity {
        snapshot.identity.apply(identity, &mut parts.headers);
    }
    let call = Call {
        snapshot,
        conn,
        entry,
        chain,
        upstream_path,
        authority,
        body_limit: limit,
    };
    if let Some(stale) = stale {
        cache_stage::refresh(call, cx, parts, body, fill);
        return Ok(Proxied::local(stale));
    }
    let (mut response, target, upstream_latency) =
        match upstream_call::call(call, cx, parts, body).await {
            Err(e) => return cache_stage::failed(fill, e).map(Proxied::local),
            Ok(Answer::Local(r)) => return Ok(Proxied::local(r)),
            Ok(Answer::Upstream {
                response,
                target,
                latency,
            }) => (response, target, Some(latency)),
        };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // A tunnel only for the WebSocket handshake we forwarded, and only to WebSocket: a 101
        // to anything else would turn the client connection into a raw pipe past the pipeline.
        let switched_to_websocket = forwarding::upgrade_is_websocket(response.headers());
        let Some(downstream) = on_upgrade.filter(|_| switched_to_websocket) else {
            return Err(Error::Upstream(gatehouse_upstream::UpstreamError::Other {
                target: target.address().to_owned(),
                source: "unexpected 101 Switching Protocols".into(),
            }));
        };
        // What follows on the client connection is no longer HTTP/1.
        conn.activity.framing.stop_scanning();
        let upstream = hyper::upgrade::on(&mut response);
        tokio::spawn(tunnel(downstream, upstream, cx.request_id.clone()));
    } else {
        forwarding::strip_hop_by_hop(response.headers_mut(), false, false);
    }
    let version = response.version();
    snapshot.via.append(response.headers_mut(), version);
    Ok(Proxied {
        response: cache_stage::response(
            fill,
            response.map(|b| upstream_call::response_body(b, entry)),
        ),
        target: Some(target),
        upstream_latency,
    })
}

/// Copies bytes both ways between an upgraded client and upstream connection.
async fn tunnel(
    downstream: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    request_id: String,
) {
    match tokio::try_join!(downstream, upstream) {
        Ok((down, up)) => {
            let mut down = TokioIo::new(down);
            let mut up = TokioIo::new(up);
            if let Err(e) = tokio::io::copy_bidirectional(&mut down, &mut up).await {
                tracing::debug!(%request_id, error = %e, "upgraded connection ended with an error");
            }
        }
        Err(e) => tracing::debug!(%request_id, error = %e, "upgrade failed"),
    }
}

fn log_error(cx: &RequestContext, e: &Error) {
    use crate::error::Source;
    match e.source_kind() {
        Source::Downstream => {
            tracing::debug!(request_id = %cx.request_id, error = %e, "request refused")
        }
        Source::Upstream => {
            tracing::warn!(request_id = %cx.request_id, route = cx.route.as_deref().unwrap_or("-"), error = %e, "upstream error")
        }
        Source::Internal => {
            tracing::error!(request_id = %cx.request_id, error = %e, "internal error")
        }
    }
}

fn error_reason(e: &Error) -> &'static str {
    match e {
        Error::BadRequest(_) => "bad_request",
        Error::NoRoute => "no_route",
        Error::BodyTooLarge => "body_too_large",
        Error::HeadTooLarge => "head_too_large",
        Error::BodyReadTimeout => "body_read_timeout",
        Error::NoHealthyTarget => "no_healthy_target",
        Error::CircuitOpen { .. } => "circuit_open",
        Error::BulkheadFull(_) => "bulkhead_full",
        Error::Overloaded { .. } => "load_shed",
        Error::Upstream(_) => "upstream_error",
        Error::UpstreamTimeout => "upstream_timeout",
        Error::Plugin(_) | Error::Config(_) | Error::Build(_) | Error::Listener { .. } => {
            "internal_error"
        }
    }
}

/// Whether the request head exceeds the listener's limits. hyper enforces a hard cap at twice
/// these limits while parsing (answering 431 itself); between the two, the answer is ours, with a
/// problem+json body. The size counts the request line and each header line as sent on HTTP/1.1.
fn head_too_large(parts: &http::request::Parts, listener: &ListenerCtx) -> bool {
    if parts.headers.len() > listener.max_headers {
        return true;
    }
    let target = parts.uri.path_and_query().map_or(1, |p| p.as_str().len())
        + parts.uri.authority().map_or(0, |a| a.as_str().len());
    let line = parts.method.as_str().len() + target + 12;
    let headers: usize = parts
        .headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    line + headers + 2 > listener.max_header_bytes
}

/// A client-sent `X-Request-ID` when well-formed: 1–200 visible ASCII characters.
fn incoming_request_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(&X_REQUEST_ID)?.as_bytes();
    let ok =
        !value.is_empty() && value.len() <= 200 && value.iter().all(|b| (0x21..=0x7e).contains(b));
    ok.then(|| String::from_utf8_lossy(value).into_owned())
}

fn generate_request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .hyphenated()
        .to_string()
}
