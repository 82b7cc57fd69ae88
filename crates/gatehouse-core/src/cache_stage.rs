//! The route's response-cache stage, whichever plugin provides it ([`ResponseCache`]): looked up
//! after the access phase, it answers hits, puts validators on the upstream request, turns the
//! upstream's answer into the client's, refreshes stale entries in the background and serves
//! stale ones when the upstream fails. Also the admin's way to every cache of a snapshot, and
//! their metrics.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_metrics::{Collector, Encoder};
use gatehouse_plugins::response_cache::{self, CacheFill, CacheLookup, CachePurge, key};
use gatehouse_plugins::{Chain, RequestContext, ResponseCache};
use gatehouse_upstream::ProxyBody;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::Error;
use crate::listener::{Activity, ConnCtx};
use crate::snapshot::Snapshot;
use crate::upstream_call::{self, Answer, Call};

/// How long a background refresh may take to read the upstream's body.
const REFRESH_BODY_LIMIT: Duration = Duration::from_secs(60);

/// What the stage decided before the upstream call.
pub(crate) enum Step {
    /// Answer with this (a hit, or a 304 to the client's conditional request).
    Answer(Response<Bytes>),
    /// Go upstream; with a fill when the response may be stored, and a stale response when it is
    /// to be served now while the upstream call completes in the background.
    Go(Option<CacheFill>, Option<Response<Bytes>>),
}

/// Runs the chain's cache stage, if it has one; validators go onto `parts` for a revalidation.
pub(crate) async fn lookup(
    chain: &Chain,
    cx: &mut RequestContext,
    parts: &mut http::request::Parts,
) -> Step {
    let Some(cache) = chain.response_cache() else {
        return Step::Go(None, None);
    };
    let (fill, stale) = match cache.lookup(cx, parts).await {
        CacheLookup::Hit(response) => return Step::Answer(response),
        CacheLookup::Bypass => return Step::Go(None, None),
        CacheLookup::Miss(fill) => (fill, None),
        CacheLookup::Refresh(stale, fill) => (fill, Some(stale)),
    };
    fill.prepare(&mut parts.headers);
    Step::Go(Some(fill), stale)
}

/// The client's response for the upstream's `response`, stored on the way when it may be.
pub(crate) fn response(
    fill: Option<CacheFill>,
    response: Response<ProxyBody>,
) -> Response<ProxyBody> {
    match fill {
        Some(fill) => fill.response(response),
        None => response,
    }
}

/// A failed upstream call: a stale response instead of the error, when stale-if-error allows.
pub(crate) fn failed(fill: Option<CacheFill>, error: Error) -> Result<Response<Bytes>, Error> {
    let upstream_failed = matches!(
        error,
        Error::NoHealthyTarget
            | Error::Upstream(_)
            | Error::UpstreamTimeout
            | Error::CircuitOpen { .. }
            | Error::BulkheadFull(_)
    );
    match fill.filter(|_| upstream_failed).and_then(CacheFill::failed) {
        Some(stale) => Ok(stale),
        None => Err(error),
    }
}

/// Sends the request upstream in the background (stale-while-revalidate) and gives the response
/// to `fill`. Skipped when a reload replaced the snapshot since the request started.
pub(crate) fn refresh(
    call: Call<'_>,
    cx: &RequestContext,
    parts: http::request::Parts,
    body: Incoming,
    fill: Option<CacheFill>,
) {
    let Some(fill) = fill else { return };
    let snapshot = call.conn.listener.shared.snapshot.load_full();
    if !std::ptr::eq(&*snapshot, call.snapshot) {
        return;
    }
    let Some(index) = (snapshot.entries.iter()).position(|e| std::ptr::eq(e, call.entry)) else {
        return;
    };
    let conn = ConnCtx {
        listener: call.conn.listener.clone(),
        peer: call.conn.peer,
        tls: call.conn.tls.clone(),
        client_cert: call.conn.client_cert.clone(),
        activity: Arc::new(Activity::default()),
    };
    let mut bg = RequestContext::new(cx.request_id.clone(), cx.peer, cx.client_ip, cx.scheme);
    bg.route = cx.route.clone();
    bg.params = cx.params.clone();
    bg.identity = cx.identity.clone();
    bg.tls = cx.tls.clone();
    bg.client_cert = cx.client_cert.clone();
    let (upstream_path, authority, body_limit) = (
        call.upstream_path.to_owned(),
        call.authority,
        call.body_limit,
    );
    tokio::spawn(async move {
        let entry = &snapshot.entries[index];
        let call = Call {
            snapshot: &snapshot,
            conn: &conn,
            entry,
            chain: &entry.chain,
            upstream_path: &upstream_path,
            authority,
            body_limit,
        };
        let Ok(Answer::Upstream { mut response, .. }) =
            upstream_call::call(call, &mut bg, parts, body).await
        else {
            return; // the fill is dropped: nothing stored, waiters released
        };
        crate::forwarding::strip_hop_by_hop(response.headers_mut(), false, false);
        let response = fill.response(response.map(crate::body::boxed));
        let drained = tokio::time::timeout(REFRESH_BODY_LIMIT, response.into_body().collect());
        if !matches!(drained.await, Ok(Ok(_))) {
            tracing::debug!(request_id = %bg.request_id, "background cache refresh failed");
        }
    });
}

impl Snapshot {
    /// Every response cache of this configuration (global and per route), for purges.
    pub fn response_caches(&self) -> Vec<Arc<dyn ResponseCache>> {
        response_cache::distinct(
            std::iter::once(&*self.global).chain(self.entries.iter().map(|e| &*e.chain)),
        )
    }

    /// Removes stored responses from every cache: with [`CacheTarget::Key`], every entry of that
    /// path and query (query order ignored; all hosts, variants and consumers); with
    /// [`CacheTarget::Prefix`], every entry whose path starts with it. `None` when the
    /// configuration has no cache; the count of entries removed otherwise.
    pub async fn purge_response_caches(
        &self,
        target: CacheTarget<'_>,
    ) -> Option<Result<u64, String>> {
        let caches = self.response_caches();
        if caches.is_empty() {
            return None;
        }
        let purge = match target {
            CacheTarget::Key(k) => {
                let (path, query) = match k.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (k, None),
                };
                let path = gatehouse_router::normalize_path(path).unwrap_or(path.into());
                CachePurge::Key(key::path_and_query(&path, query))
            }
            CacheTarget::Prefix(p) => CachePurge::Prefix(key::prefix(p)),
        };
        let mut removed = 0;
        for cache in caches {
            match cache.purge(&purge).await {
                Ok(n) => removed += n,
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(removed))
    }
}

/// What [`Snapshot::purge_response_caches`] removes.
#[derive(Debug, Clone, Copy)]
pub enum CacheTarget<'a> {
    /// One resource: `path[?query]`.
    Key(&'a str),
    /// Every path starting with this.
    Prefix(&'a str),
}

/// The metrics of every cache of a snapshot (`gatehouse_cache_*`), summed.
pub(crate) struct CacheCollector(Vec<Arc<dyn ResponseCache>>);

impl CacheCollector {
    /// Registers a collector for the caches of `global` and `entries`' chains, when there are
    /// any; the snapshot keeps it (it leaves the registry with the snapshot).
    pub(crate) fn register(
        global: &Chain,
        entries: &[crate::snapshot::RouteEntry],
        registry: &gatehouse_metrics::Registry,
    ) -> Option<Arc<dyn Collector>> {
        let caches = response_cache::distinct(
            std::iter::once(global).chain(entries.iter().map(|e| &*e.chain)),
        );
        if caches.is_empty() {
            return None;
        }
        let collector: Arc<dyn Collector> = Arc::new(CacheCollector(caches));
        registry.register(&collector);
        Some(collector)
    }
}

impl Collector for CacheCollector {
    fn collect(&self, out: &mut Encoder) {
        let stats: Vec<_> = self.0.iter().map(|c| c.stats()).collect();
        response_cache::encode_stats(out, &stats);
    }
}
