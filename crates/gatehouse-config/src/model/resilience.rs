//! Resilience settings (issue 5): retries, circuit breakers, bulkheads, load shedding, mirroring.

mod retry;
pub use retry::*;

/// Retries, circuit breaking and bulkheads towards one upstream cluster (`upstreams.<name>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamResilience {
    /// Retries of failed tries (`retry`); `None` = off.
    pub retry: Option<RetryPolicy>,
    /// The cluster's retry budget (`retry.budget`); `None` = unlimited.
    pub retry_budget: Option<RetryBudget>,
    /// Circuit breaker per target and for the whole cluster (`circuit_breaker`); `None` = off.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Concurrency limit of the cluster (`bulkhead`); `None` = unlimited.
    pub bulkhead: Option<Bulkhead>,
}

/// Per-route resilience settings (`routes[].…`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteResilience {
    /// Overall upstream timeout of the route (`routes[].timeout`), overriding the upstream's
    /// `timeouts.total`; `None` = the upstream's.
    pub timeout: Option<std::time::Duration>,
    /// Retry policy replacing the upstream's (`routes[].retry`); `None` = the upstream's.
    pub retry: Option<RetryPolicy>,
    /// Concurrency limit of the route (`routes[].bulkhead`); `None` = unlimited.
    pub bulkhead: Option<Bulkhead>,
    /// Copies of a share of the route's requests to another cluster (`routes[].mirror`);
    /// `None` = off.
    pub mirror: Option<super::MirrorConfig>,
}

/// Gateway-wide load shedding (`server.load_shedding`); default off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadShedding {
    /// Refuse new requests while more than this many are in flight; `None` = no limit.
    pub max_in_flight: Option<u64>,
    /// Refuse new requests while the process's resident memory exceeds this many bytes;
    /// `None` = no limit.
    pub max_memory: Option<u64>,
    /// The `Retry-After` sent with a shed request; default 1 s (`None`).
    pub retry_after: Option<std::time::Duration>,
}

/// A circuit breaker (`upstreams.<name>.circuit_breaker`), applied to each target and to the
/// cluster as a whole.
///
/// Closed → open after `consecutive_failures` failures in a row, or when at least `min_requests`
/// requests in the last `window` failed in a proportion of at least `failure_ratio`. Open →
/// half-open after `cool_down`; half-open lets `half_open_probes` requests through at a time and
/// closes after that many successes; a failed probe re-opens it.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreaker {
    /// Failures in a row that open the breaker; 0 = this trigger is off. Default 5.
    pub consecutive_failures: u32,
    /// Failure proportion over `window` that opens the breaker (0 < r ≤ 1); 0 = off. Default 0.5.
    pub failure_ratio: f64,
    /// The rolling window of the ratio. Default 10 s.
    pub window: std::time::Duration,
    /// Requests needed in the window before the ratio counts. Default 20.
    pub min_requests: u32,
    /// How long the breaker stays open before probing. Default 30 s.
    pub cool_down: std::time::Duration,
    /// Concurrent probes while half-open, and successes needed to close. Default 3.
    pub half_open_probes: u32,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            consecutive_failures: 5,
            failure_ratio: 0.5,
            window: std::time::Duration::from_secs(10),
            min_requests: 20,
            cool_down: std::time::Duration::from_secs(30),
            half_open_probes: 3,
        }
    }
}

/// A bulkhead: a concurrency limit with a bounded wait queue (`bulkhead`, per cluster or route).
#[derive(Debug, Clone, PartialEq)]
pub struct Bulkhead {
    /// Requests allowed at once (until their response body ends). Default 100.
    pub max_concurrent: u32,
    /// Requests allowed to wait for a slot; beyond, 503 at once. Default 50.
    pub max_queue: u32,
    /// How long a request waits for a slot before 503. Default 100 ms.
    pub queue_timeout: std::time::Duration,
}

impl Default for Bulkhead {
    fn default() -> Self {
        Bulkhead {
            max_concurrent: 100,
            max_queue: 50,
            queue_timeout: std::time::Duration::from_millis(100),
        }
    }
}
