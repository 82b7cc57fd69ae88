//! Request, listener and configuration metrics of the data plane.
//!
//! Every handle is resolved when a snapshot is built (one [`RouteMetrics`] per route, one
//! [`ListenerMetrics`] per listener), so recording a request is a handful of relaxed atomic adds:
//! no lock, no map lookup, no allocation. Labels come from configuration names and fixed sets
//! (methods, status classes, reasons written in the code), so their cardinality is bounded by
//! construction.

mod collect;
mod reasons;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_config::Config;
use gatehouse_metrics::{Collector, Counter, Gauge, Histogram, Registry};
use gatehouse_upstream::Cluster;
use http::{Method, StatusCode};

use reasons::Reasons;

/// Route and cluster label of requests that matched no route (or were answered before routing).
pub const UNROUTED: &str = "__none__";

/// The `method` label values; any other method counts as `OTHER`.
pub const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
];

/// The `status_class` label values.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Short-circuit reasons that are gateway or upstream failures, not refusals: they show in the
/// status class, not in `gatehouse_rejections_total`.
const NOT_REJECTIONS: [&str; 4] = [
    "upstream_error",
    "upstream_timeout",
    "no_healthy_target",
    "internal_error",
];

fn method_index(m: &Method) -> usize {
    match *m {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::PATCH => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => 9,
    }
}

fn status_index(s: StatusCode) -> usize {
    (usize::from(s.as_u16() / 100)).clamp(1, 5) - 1
}

/// The counters of one route (or of unrouted requests), shared by every snapshot in which the
/// route keeps its name and cluster, so that counts survive reloads.
pub struct RouteMetrics {
    route: Arc<str>,
    cluster: Arc<str>,
    requests: [[Counter; STATUS_CLASSES.len()]; METHODS.len()],
    duration: Histogram,
    upstream: Histogram,
    request_bytes: Counter,
    response_bytes: Counter,
    rejections: Reasons,
}

impl RouteMetrics {
    fn new(route: &str, cluster: &str) -> Self {
        RouteMetrics {
            route: Arc::from(route),
            cluster: Arc::from(cluster),
            requests: std::array::from_fn(|_| std::array::from_fn(|_| Counter::new())),
            duration: Histogram::latency(),
            upstream: Histogram::latency(),
            request_bytes: Counter::new(),
            response_bytes: Counter::new(),
            rejections: Reasons::default(),
        }
    }

    /// Counts request body bytes as they stream to the upstream.
    pub(crate) fn request_bytes(&self, n: usize) {
        self.request_bytes.add(n as u64);
    }

    /// Requests counted so far, all methods and statuses.
    pub fn requests(&self) -> u64 {
        self.requests.iter().flatten().map(Counter::get).sum()
    }

    /// Estimated latency quantile (seconds) from the request-duration histogram.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        self.duration.quantile(q)
    }

    /// Responses with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.requests.iter().map(|m| m[4].get()).sum()
    }
}

/// Gauges of one listener, registered when it is bound (listeners live as long as the gateway).
pub(crate) struct ListenerMetrics {
    name: Arc<str>,
    connections: Gauge,
    in_flight: Gauge,
    /// `gatehouse_connections_refused_total`, by [`Refusal`].
    refused: [Counter; Refusal::ALL.len()],
}

/// Why a listener refused or cut a client connection (the `reason` label of
/// `gatehouse_connections_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client address already had `limits.max_connections_per_ip` connections open.
    PerIpLimit,
    /// More HTTP/2 frames without a request than `limits.http2_control_frame_budget` allows.
    Http2FrameFlood,
    /// `tls.strict_sni`: the SNI (or its absence) matched no certificate.
    UnrecognizedName,
}

impl Refusal {
    const ALL: [Refusal; 3] = [
        Refusal::PerIpLimit,
        Refusal::Http2FrameFlood,
        Refusal::UnrecognizedName,
    ];

    /// The `reason` label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::PerIpLimit => "per_ip_limit",
            Refusal::Http2FrameFlood => "http2_frame_flood",
            Refusal::UnrecognizedName => "unrecognized_name",
        }
    }
}

impl ListenerMetrics {
    /// New gauges for listener `name`, registered in `registry` for as long as the returned
    /// `Arc` lives.
    pub(crate) fn register(name: &str, registry: &Registry) -> Arc<ListenerMetrics> {
        let metrics = Arc::new(ListenerMetrics {
            name: Arc::from(name),
            connections: Gauge::new(),
            in_flight: Gauge::new(),
            refused: Default::default(),
        });
        let collector: Arc<dyn Collector> = metrics.clone();
        registry.register(&collector);
        metrics
    }

    /// Counts an open connection until the guard is dropped.
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections.add(1);
        ConnectionGuard(self.clone())
    }

    /// Counts a refused (or cut) connection.
    pub(crate) fn refused(&self, why: Refusal) {
        self.refused[why as usize].inc();
    }

    /// Connections refused so far for `why`.
    #[cfg(test)]
    pub(crate) fn refusals(&self, why: Refusal) -> u64 {
        self.refused[why as usize].get()
    }
}

/// An open connection, counted in `gatehouse_connections_active` until dropped.
pub(crate) struct ConnectionGuard(Arc<ListenerMetrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.add(-1);
    }
}

/// One request being measured: in flight on its listener from [`Meter::begin`] until dropped,
/// counted under its route once [`Meter::finish`] runs. Does nothing when metrics are disabled.
pub(crate) struct Meter(Option<Measured>);

struct Measured {
    route: Arc<RouteMetrics>,
    listener: Arc<ListenerMetrics>,
    bytes_out: u64,
}

impl Meter {
    /// Starts measuring a request on `listener`; it counts as unrouted until [`Meter::route`].
    pub(crate) fn begin(listener: &Arc<ListenerMetrics>, snapshot: &SnapshotMetrics) -> Meter {
        if !snapshot.enabled {
            return Meter(None);
        }
        listener.in_flight.add(1);
        Meter(Some(Measured {
            route: snapshot.unrouted.clone(),
            listener: listener.clone(),
            bytes_out: 0,
        }))
    }

    /// The request matched `route`.
    pub(crate) fn route(&mut self, route: &Arc<RouteMetrics>) {
        if let Some(m) = &mut self.0 {
            m.route = route.clone();
        }
    }

    /// Response body bytes sent.
    pub(crate) fn data(&mut self, n: usize) {
        if let Some(m) = &mut self.0 {
            m.bytes_out += n as u64;
        }
    }

    /// Counts the finished request.
    pub(crate) fn finish(
        &mut self,
        method: &Method,
        status: StatusCode,
        reason: Option<&'static str>,
        total: Duration,
        upstream: Option<Duration>,
    ) {
        let Some(m) = &mut self.0 else {
            return;
        };
        let r = &m.route;
        r.requests[method_index(method)][status_index(status)].inc();
        r.duration.observe_duration(total);
        if let Some(d) = upstream {
            r.upstream.observe_duration(d);
        }
        r.response_bytes.add(std::mem::take(&mut m.bytes_out));
        if let Some(reason) = reason
            && status.as_u16() >= 400
            && !NOT_REJECTIONS.contains(&reason)
        {
            r.rejections.inc(reason);
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            m.listener.in_flight.add(-1);
        }
    }
}

/// The metrics of one snapshot: route handles, and a collector that writes them (and the
/// clusters' target states and the configuration facts) while this snapshot is the newest.
pub struct SnapshotMetrics {
    /// The newest snapshot version built by this gateway (shared by all its snapshots).
    newest: Arc<AtomicU64>,
    version: u64,
    /// `observability.metrics.enabled`: whether requests are measured.
    enabled: bool,
    /// Unique per route name, in configuration order.
    routes: Vec<Arc<RouteMetrics>>,
    /// Per route entry (index as in the route table).
    by_entry: Vec<Arc<RouteMetrics>>,
    unrouted: Arc<RouteMetrics>,
    clusters: Vec<(String, Arc<Cluster>)>,
    hash: String,
    loaded_at: f64,
}

impl SnapshotMetrics {
    /// Handles for `config`'s routes, taking over the previous snapshot's counters for routes
    /// whose name and cluster are unchanged.
    pub(crate) fn build(
        config: &Config,
        previous: Option<&SnapshotMetrics>,
        version: u64,
        clusters: &HashMap<String, Arc<Cluster>>,
    ) -> SnapshotMetrics {
        let old: HashMap<&str, &Arc<RouteMetrics>> = previous
            .map(|p| p.routes.iter().map(|r| (&*r.route, r)).collect())
            .unwrap_or_default();
        let mut seen: HashMap<&str, Arc<RouteMetrics>> = HashMap::new();
        let mut routes = Vec::new();
        let mut by_entry = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let handle = match seen.get(route.name.as_str()) {
                Some(h) => h.clone(),
                None => {
                    let h = old
                        .get(route.name.as_str())
                        .filter(|r| *r.cluster == *route.upstream)
                        .map(|r| (*r).clone())
                        .unwrap_or_else(|| {
                            Arc::new(RouteMetrics::new(&route.name, &route.upstream))
                        });
                    seen.insert(&route.name, h.clone());
                    routes.push(h.clone());
                    h
                }
            };
            by_entry.push(handle);
        }
        let mut clusters: Vec<_> = clusters
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        clusters.sort_by(|a, b| a.0.cmp(&b.0));
        let loaded_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        SnapshotMetrics {
            newest: previous.map(|p| p.newest.clone()).unwrap_or_default(),
            version,
            enabled: config.observability.metrics.enabled,
            routes,
            by_entry,
            unrouted: previous
                .map(|p| p.unrouted.clone())
                .unwrap_or_else(|| Arc::new(RouteMetrics::new(UNROUTED, UNROUTED))),
            clusters,
            hash: config.meta.hash.clone(),
            loaded_at,
        }
    }

    /// The handle of route entry `index`.
    pub(crate) fn entry(&self, index: usize) -> Arc<RouteMetrics> {
        self.by_entry[index].clone()
    }

    /// Makes this the snapshot whose metrics are exposed and registers its collector; call it
    /// once the snapshot is built and about to be served.
    pub(crate) fn activate(self: &Arc<Self>, registry: &Registry) {
        self.newest.store(self.version, Ordering::Release);
        let collector: Arc<dyn Collector> = self.clone();
        registry.register(&collector);
    }

    /// Every route's handle (unique per name), then the unrouted one.
    pub fn routes(&self) -> impl Iterator<Item = &Arc<RouteMetrics>> {
        self.routes.iter().chain(std::iter::once(&self.unrouted))
    }
}

impl RouteMetrics {
    /// The route's name ([`UNROUTED`] for unrouted requests).
    pub fn name(&self) -> &str {
        &self.route
    }

    /// The route's cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }
}
