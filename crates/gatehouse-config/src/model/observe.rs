//! Observability settings (issue 6) and usage metering (issue 4).

/// Metrics, tracing and access log (`observability:`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observability {}

/// Usage metering for billing (`usage:`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageMetering {}
