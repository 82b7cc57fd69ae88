//! Observability settings (issue 6) and usage metering (issue 4).

mod access_log;
mod metrics;
mod tracing;

pub use access_log::{AccessLog, LogDestination};
pub use metrics::Metrics;
pub use tracing::{OtlpExporter, OtlpProtocol, TraceBatch, Tracing};

/// Metrics, tracing and access log (`observability:`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observability {
    /// Trace context propagation and span export.
    pub tracing: Tracing,
    /// The JSON access log.
    pub access_log: AccessLog,
    /// Request metrics.
    pub metrics: Metrics,
}

/// Usage metering for billing (`usage:`): requests counted per consumer, route, status class
/// and UTC hour, flushed to a backend and exported by the admin API and Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageMetering {
    /// Whether requests are metered. Default `false` without a `usage:` section, `true` with one.
    pub enabled: bool,
    /// How often in-process counts are written to the backend. Default 10 s.
    pub flush_interval: std::time::Duration,
    /// How long hourly rows are kept after their hour ended. Default 35 days.
    pub retention: std::time::Duration,
    /// Cap on `gatehouse_usage_requests_total` series; beyond it, series fold into
    /// `consumer="__other__"`. Default 10 000.
    pub max_series: usize,
    /// Where hourly rows are kept. Default `redis` when `store.redis` is set, else `memory`.
    pub backend: UsageBackend,
}

impl Default for UsageMetering {
    fn default() -> Self {
        UsageMetering {
            enabled: false,
            flush_interval: std::time::Duration::from_secs(10),
            retention: std::time::Duration::from_secs(35 * 86_400),
            max_series: 10_000,
            backend: UsageBackend::Memory,
        }
    }
}

/// Where usage rows are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UsageBackend {
    /// In this process (single instance; lost on restart).
    #[default]
    Memory,
    /// In the Redis of `store.redis`, shared by every gateway instance.
    Redis,
}
