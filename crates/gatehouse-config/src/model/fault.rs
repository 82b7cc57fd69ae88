//! Testing tools (issue 5): the `fault_injection` plugin and request mirroring (`routes[].mirror`).

use std::time::Duration;

/// `fault_injection` settings: delay and/or abort a percentage of requests, or on request headers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultInjectionConfig {
    /// Wait before continuing, for a percentage of requests; `None` = never.
    pub delay: Option<FaultDelay>,
    /// Answer with a status instead of proxying, for a percentage of requests; `None` = never.
    pub abort: Option<FaultAbort>,
    /// Let the request headers `x-gatehouse-fault-delay: <ms>` and `x-gatehouse-fault-abort:
    /// <status>` force a fault. Default false.
    pub header_control: bool,
}

/// `fault_injection.delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultDelay {
    /// How long to wait (> 0); also the largest delay a header may ask for.
    pub duration: Duration,
    /// Share of requests delayed, 0 to 100 (decimals allowed). Default 100.
    pub percentage: f64,
}

/// `fault_injection.abort`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultAbort {
    /// Status of the answer, 400 to 599.
    pub status: u16,
    /// Share of requests aborted, 0 to 100 (decimals allowed). Default 100.
    pub percentage: f64,
}

/// `routes[].mirror`: copy a share of the route's requests to another upstream cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    /// Name of the upstream cluster receiving the copies (resolved: it exists).
    pub upstream: String,
    /// Share of requests mirrored, 0 to 100 (decimals allowed). Default 100.
    pub percentage: f64,
    /// Largest request body mirrored; requests with larger bodies are not mirrored. Default 64 KiB.
    pub max_body: u64,
    /// Time allowed for one mirror exchange (sending, response head and draining). Default 1 s.
    pub timeout: Duration,
    /// Mirror requests in flight for this route at most; more are dropped. Default 100.
    pub max_in_flight: usize,
}
