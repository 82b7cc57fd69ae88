//! The upstream call: from target selection to the upstream's response head.
//!
//! `proxy::forward` runs the access phase and prepares the request, then hands it to [`call`],
//! which picks a target, finishes the upstream request head (forwarding headers, `Host`, path,
//! version), runs the `on_upstream_request` phase, and sends the request with its size-limited
//! body — retrying per the route's [`CallPolicy`] (see `tries`) — and maps send errors to the data
//! plane's [`Error`].

mod body;
pub(crate) mod budget;
mod idle_body;
mod metrics;
mod policy;
mod tries;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_config::model::UpstreamProtocol;
use gatehouse_plugins::{Chain, Flow, RequestContext};
use gatehouse_upstream::Selected;
use gatehouse_upstream::retry::is_retryable_request;
use http::header::{self, HeaderValue};
use http::{Response, Uri, Version};
use hyper::body::Incoming;

use crate::Error;
use crate::body::{LimitedBody, RequestBytes, boxed};
use crate::forwarding::{self, X_REQUEST_ID};
use crate::listener::ConnCtx;
use crate::snapshot::{RouteEntry, Snapshot};

pub(crate) use metrics::CallMetrics;
pub(crate) use policy::CallPolicy;

use body::RequestBody;

/// Everything about the request's route and connection that the upstream call needs.
pub(crate) struct Call<'a> {
    /// The snapshot the request runs under.
    pub(crate) snapshot: &'a Snapshot,
    /// The client connection.
    pub(crate) conn: &'a ConnCtx,
    /// The matched route.
    pub(crate) entry: &'a RouteEntry,
    /// The route's plugin chain.
    pub(crate) chain: &'a Chain,
    /// The path to send upstream (after the route's rewrite).
    pub(crate) upstream_path: &'a str,
    /// The request's authority ([`crate::authority`]): `:authority` or `Host`, checked to agree.
    pub(crate) authority: Option<HeaderValue>,
    /// The maximum request body size in bytes.
    pub(crate) body_limit: u64,
}

/// What the upstream call produced.
pub(crate) enum Answer {
    /// A plugin answered in the `on_upstream_request` phase; nothing was sent.
    Local(Response<Bytes>),
    /// The upstream's response head.
    Upstream {
        /// The response, its body still streaming.
        response: Response<Incoming>,
        /// The target that answered (kept in flight until the body ends).
        target: Selected,
        /// Time from sending the last try to its response head.
        latency: Duration,
    },
}

/// The upstream response body as sent on to the client: bounded per chunk when the route's
/// cluster sets `timeouts.body`.
pub(crate) fn response_body(body: Incoming, entry: &RouteEntry) -> gatehouse_upstream::ProxyBody {
    match entry.call.body {
        Some(timeout) => boxed(idle_body::IdleBody::new(
            body,
            timeout,
            entry.cluster.clone(),
        )),
        None => boxed(body),
    }
}

/// Why the client's request body failed while it was read (set by [`LimitedBody`]).
#[derive(Default)]
struct BodyFlags {
    exceeded: Arc<AtomicBool>,
    client_failed: Arc<AtomicBool>,
    timed_out: Arc<AtomicBool>,
}

impl BodyFlags {
    /// The client-side error behind a failed read or send, if the body was at fault.
    fn client_error(&self) -> Option<Error> {
        if self.exceeded.load(Ordering::Acquire) {
            Some(Error::BodyTooLarge)
        } else if self.timed_out.load(Ordering::Acquire) {
            // The client stalled mid-body (`limits.body_read_timeout`).
            Some(Error::BodyReadTimeout)
        } else if self.client_failed.load(Ordering::Acquire) {
            // The client's own body broke (malformed chunk, client gone): not the upstream's fault.
            Some(Error::BadRequest("malformed request body"))
        } else {
            None
        }
    }
}

/// Picks a target, finishes the upstream request head, runs `on_upstream_request` and sends the
/// request, retrying per the route's policy. Send errors map to 413 (body over the limit), 408
/// (the client stalled mid-body), 400 (the client's body broke), 504 (timeout) or 502 (anything
/// else).
pub(crate) async fn call(
    call: Call<'_>,
    cx: &mut RequestContext,
    mut parts: http::request::Parts,
    body: Incoming,
) -> Result<Answer, Error> {
    let Call {
        snapshot,
        conn,
        entry,
        chain,
        upstream_path,
        authority: client_host,
        body_limit,
    } = call;
    crate::shed::bulkheads(entry, cx).await?;
    // Picked after the identity headers are set, so `consistent_hash` on `header:x-user-id`
    // hashes the verified identity, never a client-sent value.
    let target = entry.cluster.try_select(&parts, cx.client_ip)?;
    let trusted_peer =
        forwarding::is_trusted(conn.peer.ip(), &snapshot.config.server.trusted_proxies);
    forwarding::set_forwarded(
        &mut parts.headers,
        conn.peer.ip(),
        trusted_peer,
        cx.scheme,
        client_host.as_ref(),
    );
    if let Ok(id) = HeaderValue::from_str(&cx.request_id) {
        parts.headers.insert(&X_REQUEST_ID, id);
    }
    snapshot.via.append(&mut parts.headers, parts.version);
    let host = if entry.preserve_host {
        client_host
    } else {
        HeaderValue::from_str(target.address()).ok()
    };
    if let Some(host) = host {
        parts.headers.insert(header::HOST, host);
    }
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{upstream_path}?{q}"),
        None => upstream_path.to_owned(),
    };
    parts.uri =
        Uri::try_from(path_and_query).map_err(|_| Error::BadRequest("invalid request target"))?;
    parts.version = match entry.cluster.config().protocol {
        UpstreamProtocol::Http1 => Version::HTTP_11,
        UpstreamProtocol::Http2 => Version::HTTP_2,
    };
    parts.extensions = http::Extensions::new();
    if let Flow::Respond(r) = chain.on_upstream_request(cx, &mut parts).await? {
        return Ok(Answer::Local(r));
    }

    let flags = BodyFlags::default();
    let limited = boxed(
        LimitedBody::new(
            body,
            body_limit,
            flags.exceeded.clone(),
            flags.client_failed.clone(),
        )
        .read_timeout(conn.listener.body_read_timeout, &flags.timed_out)
        .counting(&entry.metrics)
        .tally(cx.extensions.get_or_insert_default::<RequestBytes>()),
    );
    // A sampled request's copy goes to the route's mirror, fire and forget (see `mirror`).
    let limited = crate::mirror::tee(entry.mirror.as_ref(), &parts, cx.client_ip, limited);
    let policy = &entry.call;
    let retryable =
        (policy.retry.as_ref()).filter(|r| is_retryable_request(r, &parts.method, &parts.headers));
    let body = match retryable {
        Some(retry) => {
            match body::buffer(limited, retry.buffer_body, body_hold(snapshot, conn)).await {
                Ok(body::Buffered::Body(body)) => body,
                Ok(body::Buffered::OverBudget) => {
                    return Err(Error::Overloaded {
                        reason: "request_buffers",
                        retry_after: Duration::from_secs(1),
                    });
                }
                Err(_) => {
                    return Err(flags
                        .client_error()
                        .unwrap_or(Error::BadRequest("malformed request body")));
                }
            }
        }
        None => RequestBody::Streamed(Some(limited)),
    };
    let tries = tries::Tries {
        entry,
        policy,
        retry: retryable.filter(|_| body.is_replayable()),
        flags: &flags,
    };
    tries.run(cx, parts, body, target).await
}

/// An empty hold on the gateway's and the connection's request-body budget.
fn body_hold(snapshot: &Snapshot, conn: &ConnCtx) -> budget::Hold {
    budget::Hold::new(
        conn.listener.shared.body_bytes.clone(),
        conn.activity.body_bytes.clone(),
        snapshot.config.server.request_buffers,
    )
}
