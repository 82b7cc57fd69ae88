//! Request mirroring (`routes[].mirror`): a copy of a share of a route's requests goes to another
//! upstream cluster; its response is drained and ignored.
//!
//! Fire and forget: the primary request never waits for the mirror. Its body is teed frame by frame
//! ([`TeeBody`]) into a buffer of at most `max_body` bytes while it streams to the primary; once
//! the body is complete the copy is sent by a spawned task, bounded by `timeout`. A body larger
//! than `max_body` (or one that never completes), more than `max_in_flight` mirror requests at
//! once, or no usable target in the shadow cluster drop the copy. Every outcome is counted in
//! `gatehouse_mirror_requests_total{route,result="sent|dropped|failed"}`.

mod tee;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_config::model::{MirrorConfig, Route};
use gatehouse_metrics::{Collector, Counter, Encoder, Registry};
use gatehouse_upstream::{Cluster, ProxyBody};
use http::header::{self, HeaderValue};
use http::{Request, request};
use http_body_util::BodyExt;
use tokio::sync::oneshot;

use crate::Error;
use crate::body::full;
pub(crate) use tee::TeeBody;

/// What happened to mirror copies of one route; kept across reloads while the route keeps a mirror.
#[derive(Default)]
struct Counts {
    sent: Counter,
    dropped: Counter,
    failed: Counter,
    /// Mirror requests in flight (admitted and not yet finished).
    in_flight: AtomicUsize,
}

/// One route's mirror.
pub(crate) struct Mirror {
    route: Arc<str>,
    cluster: Arc<Cluster>,
    percentage: f64,
    max_body: u64,
    timeout: Duration,
    max_in_flight: usize,
    counts: Arc<Counts>,
}

/// Every route's mirror of one snapshot, and its metrics collector.
pub(crate) struct Mirrors {
    by_route: Vec<Option<Arc<Mirror>>>,
    /// The newest snapshot version built by this gateway: only that snapshot's set is exposed,
    /// so that an old snapshot still serving requests never duplicates the series.
    newest: Arc<AtomicU64>,
    version: u64,
}

impl Mirrors {
    /// The mirrors of `routes` (in order), over `clusters`; counters of a route that had a mirror
    /// in `previous` carry over. Exposed once [`activate`](Self::activate)d.
    pub(crate) fn build(
        routes: &[Route],
        clusters: &HashMap<String, Arc<Cluster>>,
        previous: Option<&Mirrors>,
        version: u64,
    ) -> Result<Mirrors, Error> {
        let old: HashMap<&str, &Arc<Counts>> = previous
            .into_iter()
            .flat_map(|p| p.by_route.iter().flatten())
            .map(|m| (&*m.route, &m.counts))
            .collect();
        let mut by_route = Vec::with_capacity(routes.len());
        for route in routes {
            let Some(config) = &route.resilience.mirror else {
                by_route.push(None);
                continue;
            };
            let cluster = clusters.get(&config.upstream).cloned().ok_or_else(|| {
                Error::Build(format!("route `{}`: unknown mirror upstream", route.name))
            })?;
            let counts = old
                .get(route.name.as_str())
                .map_or_else(Default::default, |c| Arc::clone(c));
            by_route.push(Some(Arc::new(Mirror::new(
                &route.name,
                config,
                cluster,
                counts,
            ))));
        }
        Ok(Mirrors {
            by_route,
            newest: previous.map_or_else(Default::default, |p| p.newest.clone()),
            version,
        })
    }

    /// Makes this set the one exposed (its snapshot is complete) and registers its collector.
    pub(crate) fn activate(self: &Arc<Self>, registry: &Registry) {
        self.newest.store(self.version, Ordering::Release);
        let collector: Arc<dyn Collector> = self.clone();
        registry.register(&collector);
    }

    /// The mirror of the route at `index`, if it has one.
    pub(crate) fn route(&self, index: usize) -> Option<Arc<Mirror>> {
        self.by_route.get(index).cloned().flatten()
    }
}

impl Collector for Mirrors {
    fn collect(&self, out: &mut Encoder) {
        if self.newest.load(Ordering::Acquire) != self.version {
            return;
        }
        const NAME: &str = "gatehouse_mirror_requests";
        const HELP: &str = "Sampled requests by mirror outcome: sent (the shadow answered), dropped \
                            (not sent: body over max_body or incomplete, max_in_flight reached, no \
                            usable shadow target), failed (error or timeout)";
        let mut seen = std::collections::HashSet::new();
        for m in self.by_route.iter().flatten() {
            if !seen.insert(&*m.route) {
                continue;
            }
            let c = &m.counts;
            for (result, counter) in [
                ("sent", &c.sent),
                ("dropped", &c.dropped),
                ("failed", &c.failed),
            ] {
                out.counter(
                    NAME,
                    HELP,
                    &[("route", &m.route), ("result", result)],
                    counter.get(),
                );
            }
        }
    }
}

/// Decrements the route's in-flight count when a mirror request is over.
struct InFlight(Arc<Counts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Mirror {
    fn new(route: &str, config: &MirrorConfig, cluster: Arc<Cluster>, counts: Arc<Counts>) -> Self {
        Mirror {
            route: Arc::from(route),
            cluster,
            percentage: config.percentage,
            max_body: config.max_body,
            timeout: config.timeout,
            max_in_flight: config.max_in_flight,
            counts,
        }
    }
}

impl Counts {
    /// Admits one more mirror request unless `max` are already under way.
    fn admit(self: &Arc<Self>, max: usize) -> Option<InFlight> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self.clone());
        (before < max).then_some(guard)
    }
}

/// Whether a request is sampled for a `percentage` (0–100) given a uniform `roll` in `[0, 1)`.
fn sampled(percentage: f64, roll: impl FnOnce() -> f64) -> bool {
    percentage >= 100.0 || (percentage > 0.0 && roll() * 100.0 < percentage)
}

/// `Host` of the mirror copy: the primary's with `-shadow` appended to the host name, before any
/// port (`api.example.com:8080` → `api.example.com-shadow:8080`), as Envoy does.
fn shadow_host(host: &HeaderValue) -> Option<HeaderValue> {
    let text = host.to_str().ok()?;
    let split = text.rfind(':').filter(|&i| {
        let (name, port) = (&text[..i], &text[i + 1..]);
        !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && (!name.contains(':') || name.ends_with(']'))
    });
    let value = match split {
        Some(i) => format!("{}-shadow{}", &text[..i], &text[i..]),
        None => format!("{text}-shadow"),
    };
    HeaderValue::from_str(&value).ok()
}

/// Starts mirroring the request `parts` + `body` (as about to be sent to the route's primary
/// upstream) when `mirror` is set and the request is sampled. Returns the body to send to the
/// primary: `body` itself, or a [`TeeBody`] that copies it for the mirror.
pub(crate) fn tee(
    mirror: Option<&Arc<Mirror>>,
    parts: &request::Parts,
    client_ip: IpAddr,
    body: ProxyBody,
) -> ProxyBody {
    let Some(mirror) = mirror else {
        return body;
    };
    // A protocol upgrade (WebSocket) or tunnel cannot be replayed as a plain request.
    if parts.headers.contains_key(header::UPGRADE) || parts.method == http::Method::CONNECT {
        return body;
    }
    if !sampled(mirror.percentage, rand::random::<f64>) {
        return body;
    }
    let Some(guard) = mirror.counts.admit(mirror.max_in_flight) else {
        mirror.counts.dropped.inc();
        return body;
    };
    let mut head = Request::new(());
    *head.method_mut() = parts.method.clone();
    *head.uri_mut() = parts.uri.clone();
    *head.headers_mut() = parts.headers.clone();
    if let Some(host) = parts.headers.get(header::HOST).and_then(shadow_host) {
        head.headers_mut().insert(header::HOST, host);
    }
    let (tx, rx) = oneshot::channel();
    let body = if http_body::Body::is_end_stream(&body) {
        let _ = tx.send(Bytes::new());
        body
    } else {
        crate::body::boxed(TeeBody::new(body, mirror.max_body, tx))
    };
    tokio::spawn(send(mirror.clone(), head, client_ip, rx, guard));
    body
}

/// Waits for the complete body, sends the copy and drains the answer, within the mirror's timeout.
async fn send(
    mirror: Arc<Mirror>,
    head: Request<()>,
    client_ip: IpAddr,
    body: oneshot::Receiver<Bytes>,
    _guard: InFlight,
) {
    let counts = &mirror.counts;
    // The sender is dropped (without a body) when the body was too large, failed or was abandoned.
    let Ok(body) = body.await else {
        counts.dropped.inc();
        return;
    };
    let (parts, ()) = head.into_parts();
    let Some(target) = mirror.cluster.select(&parts, client_ip) else {
        counts.dropped.inc();
        return;
    };
    let exchange = async {
        let response = mirror
            .cluster
            .send(&target, Request::from_parts(parts, full(body)))
            .await
            .ok()?;
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame.ok()?;
        }
        Some(())
    };
    match tokio::time::timeout(mirror.timeout, exchange).await {
        Ok(Some(())) => counts.sent.inc(),
        _ => {
            tracing::debug!(route = %mirror.route, "mirror request failed or timed out");
            counts.failed.inc();
        }
    }
}

#[cfg(test)]
mod tests;
