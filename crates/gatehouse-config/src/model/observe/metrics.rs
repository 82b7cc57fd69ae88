//! `observability.metrics`: the data plane's request metrics.

/// Metrics settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// Whether requests are measured (request counts, latency histograms, bytes, refusals,
    /// requests in flight). Default `true`. When `false`, `GET /metrics` still answers with
    /// everything else (targets, reloads, configuration, build, other subsystems).
    pub enabled: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { enabled: true }
    }
}
