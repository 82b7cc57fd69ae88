//! The metrics of circuit breakers, bulkheads and load shedding, read from their atomics when
//! scraped (nothing is recorded on the hot path for them beyond the state machines themselves).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use gatehouse_metrics::{Collector, Encoder};
use gatehouse_upstream::{Bulkhead, Cluster};

use super::ShedCounts;
use crate::snapshot::RouteEntry;

/// One snapshot's clusters, route bulkheads and the shedding counts.
pub(super) struct ResilienceMetrics {
    clusters: Vec<(String, Arc<Cluster>)>,
    routes: Vec<(Arc<str>, Arc<Bulkhead>)>,
    counts: Arc<ShedCounts>,
}

impl ResilienceMetrics {
    pub(super) fn new(
        clusters: &HashMap<String, Arc<Cluster>>,
        entries: &[RouteEntry],
        counts: Arc<ShedCounts>,
    ) -> Self {
        let mut clusters: Vec<_> = (clusters.iter())
            .filter(|(_, c)| c.bulkhead().is_some() || c.circuit_status().is_some())
            .map(|(name, c)| (name.clone(), c.clone()))
            .collect();
        clusters.sort_by(|a, b| a.0.cmp(&b.0));
        let routes = (entries.iter())
            .filter_map(|e| Some((e.name.clone(), e.bulkhead.clone()?)))
            .collect();
        ResilienceMetrics {
            clusters,
            routes,
            counts,
        }
    }
}

const STATE_HELP: &str = "Circuit breaker state: 0 closed, 1 half-open, 2 open (target `*` = the cluster's own breaker).";
const TRANSITIONS_HELP: &str = "Circuit breaker state changes, by state entered.";
const REJECTIONS_HELP: &str = "Requests refused by a bulkhead (queue full or queue timeout).";
const IN_USE_HELP: &str = "Bulkhead slots in use.";
const SHED_HELP: &str = "Requests refused by load shedding, by reason (in_flight, memory).";

impl Collector for ResilienceMetrics {
    fn collect(&self, out: &mut Encoder) {
        for (name, cluster) in &self.clusters {
            if let Some(status) = cluster.circuit_status() {
                let state =
                    |out: &mut Encoder, target: &str, s: gatehouse_upstream::CircuitState| {
                        let labels = [("cluster", name.as_str()), ("target", target)];
                        out.gauge(
                            "gatehouse_upstream_circuit_state",
                            STATE_HELP,
                            &labels,
                            f64::from(s.metric()),
                        );
                    };
                state(out, "*", status.cluster);
                for (target, s) in &status.targets {
                    state(out, target, *s);
                }
                for (to, n) in status.transitions {
                    let labels = [("cluster", name.as_str()), ("to", to.as_str())];
                    out.counter(
                        "gatehouse_upstream_circuit_transitions",
                        TRANSITIONS_HELP,
                        &labels,
                        n,
                    );
                }
            }
            if let Some(b) = cluster.bulkhead() {
                bulkhead(out, "cluster", name, b);
            }
        }
        for (name, b) in &self.routes {
            bulkhead(out, "route", name, b);
        }
        let c = &self.counts;
        for (reason, n) in [("in_flight", &c.shed_in_flight), ("memory", &c.shed_memory)] {
            let n = n.load(Ordering::Relaxed);
            out.counter("gatehouse_load_shed", SHED_HELP, &[("reason", reason)], n);
        }
    }
}

fn bulkhead(out: &mut Encoder, scope: &str, name: &str, b: &Bulkhead) {
    let labels = [("scope", scope), ("name", name)];
    out.counter(
        "gatehouse_bulkhead_rejections",
        REJECTIONS_HELP,
        &labels,
        b.rejections(),
    );
    out.gauge(
        "gatehouse_bulkhead_in_use",
        IN_USE_HELP,
        &labels,
        b.in_use() as f64,
    );
}
