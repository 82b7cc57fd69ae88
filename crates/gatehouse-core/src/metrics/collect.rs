//! The exposition of the data plane's metrics.

use std::sync::atomic::Ordering;

use gatehouse_metrics::{Collector, Encoder};

use super::{ListenerMetrics, METHODS, RouteMetrics, STATUS_CLASSES, SnapshotMetrics};

/// The gateway's version, as in `gatehouse_build_info`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

impl Collector for ListenerMetrics {
    fn collect(&self, out: &mut Encoder) {
        let labels = [("listener", &*self.name)];
        out.gauge(
            "gatehouse_connections_active",
            "Open client connections.",
            &labels,
            self.connections.get() as f64,
        );
        out.gauge(
            "gatehouse_requests_in_flight",
            "Requests received and not yet fully answered.",
            &labels,
            self.in_flight.get() as f64,
        );
        for (why, count) in super::Refusal::ALL.iter().zip(&self.refused) {
            out.counter(
                "gatehouse_connections_refused",
                "Client connections refused or cut by a listener limit, by reason.",
                &[("listener", &*self.name), ("reason", why.label())],
                count.get(),
            );
        }
    }
}

impl Collector for SnapshotMetrics {
    fn collect(&self, out: &mut Encoder) {
        // While a reload is in progress two snapshots are alive; only the newest one speaks.
        if self.newest.load(Ordering::Acquire) != self.version {
            return;
        }
        if self.enabled {
            for route in self.routes() {
                route.collect(out);
            }
        }
        for (name, cluster) in &self.clusters {
            for target in cluster.status() {
                let labels = [
                    ("cluster", name.as_str()),
                    ("target", target.address.as_str()),
                ];
                out.gauge(
                    "gatehouse_upstream_target_healthy",
                    "1 when the target is healthy and not ejected, else 0.",
                    &labels,
                    if target.healthy && !target.ejected {
                        1.0
                    } else {
                        0.0
                    },
                );
                out.gauge(
                    "gatehouse_upstream_target_in_flight",
                    "Requests in flight to the target.",
                    &labels,
                    target.in_flight as f64,
                );
            }
        }
        out.info(
            "gatehouse_config",
            "The configuration being served.",
            &[("hash", &self.hash)],
        );
        out.gauge(
            "gatehouse_config_last_reload_timestamp_seconds",
            "When the configuration being served was loaded (Unix time).",
            &[],
            self.loaded_at,
        );
        let mut build = vec![("version", VERSION)];
        if let Some(commit) = option_env!("GATEHOUSE_GIT_COMMIT") {
            build.push(("commit", commit));
        }
        out.info("gatehouse_build", "The running build.", &build);
    }
}

impl RouteMetrics {
    fn collect(&self, out: &mut Encoder) {
        let route = &*self.route;
        let cluster = &*self.cluster;
        for (method, by_status) in METHODS.iter().zip(&self.requests) {
            for (class, counter) in STATUS_CLASSES.iter().zip(by_status) {
                let n = counter.get();
                if n == 0 {
                    continue;
                }
                out.counter(
                    "gatehouse_requests",
                    "Requests answered, by route, method, status class and cluster.",
                    &[
                        ("route", route),
                        ("method", method),
                        ("status_class", class),
                        ("cluster", cluster),
                    ],
                    n,
                );
            }
        }
        let labels = [("route", route)];
        out.histogram(
            "gatehouse_request_duration_seconds",
            "Time from the request head to the end of the response body.",
            &labels,
            &self.duration,
        );
        out.histogram(
            "gatehouse_upstream_duration_seconds",
            "Time from sending the request upstream to the upstream's response head.",
            &[("route", route), ("cluster", cluster)],
            &self.upstream,
        );
        out.counter(
            "gatehouse_request_bytes",
            "Request body bytes forwarded to the upstream.",
            &labels,
            self.request_bytes.get(),
        );
        out.counter(
            "gatehouse_response_bytes",
            "Response body bytes sent to clients.",
            &labels,
            self.response_bytes.get(),
        );
        self.rejections.each(|reason, n| {
            out.counter(
                "gatehouse_rejections",
                "Requests refused by the gateway (authentication, limits, IP rules, size, …), by reason.",
                &[("route", route), ("reason", reason)],
                n,
            );
        });
    }
}
