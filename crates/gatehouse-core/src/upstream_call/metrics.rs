//! The retry and timeout metrics of every cluster of a snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_metrics::{Collector, Encoder, Registry};
use gatehouse_upstream::Cluster;
use gatehouse_upstream::retry::CallStats;

/// Collects `gatehouse_upstream_retries_total{cluster,reason}`,
/// `gatehouse_upstream_retry_budget_exhausted_total{cluster}` and
/// `gatehouse_upstream_timeouts_total{cluster,kind}` from the clusters' counters.
pub(crate) struct CallMetrics {
    clusters: Vec<(String, Arc<Cluster>)>,
}

impl CallMetrics {
    /// Builds the collector of `clusters` and registers it in `registry` (the snapshot keeps the
    /// returned `Arc`; the collector disappears with the snapshot).
    pub(crate) fn register(
        clusters: &HashMap<String, Arc<Cluster>>,
        registry: &Registry,
    ) -> Arc<dyn Collector> {
        let mut clusters: Vec<_> = (clusters.iter())
            .map(|(name, c)| (name.clone(), c.clone()))
            .collect();
        clusters.sort_by(|a, b| a.0.cmp(&b.0));
        let collector: Arc<dyn Collector> = Arc::new(CallMetrics { clusters });
        registry.register(&collector);
        collector
    }
}

impl Collector for CallMetrics {
    fn collect(&self, out: &mut Encoder) {
        for (name, cluster) in &self.clusters {
            let stats = cluster.call_stats();
            for (reason, value) in CallStats::REASONS.iter().zip(stats.retries()) {
                out.counter(
                    "gatehouse_upstream_retries",
                    "Retries of failed upstream tries, by cluster and reason.",
                    &[("cluster", name), ("reason", reason)],
                    value,
                );
            }
        }
        for (name, cluster) in &self.clusters {
            out.counter(
                "gatehouse_upstream_retry_budget_exhausted",
                "Retries refused because the cluster's retry budget was spent.",
                &[("cluster", name)],
                cluster.call_stats().budget_exhausted_count(),
            );
        }
        for (name, cluster) in &self.clusters {
            let stats = cluster.call_stats();
            for (kind, value) in CallStats::TIMEOUT_KINDS.iter().zip(stats.timeouts()) {
                out.counter(
                    "gatehouse_upstream_timeouts",
                    "Upstream timeouts, by cluster and kind (connect, per_try, total, body).",
                    &[("cluster", name), ("kind", kind)],
                    value,
                );
            }
        }
    }
}
