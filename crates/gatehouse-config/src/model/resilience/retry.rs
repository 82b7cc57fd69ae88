//! Retry settings: `upstreams.<name>.retry` (with its `budget`) and `routes[].retry`.

use std::time::Duration;

use http::Method;

/// When and how a failed upstream try is repeated (`upstreams.<name>.retry`, `routes[].retry`).
///
/// Only requests whose method is in `methods`, or that carry an `Idempotency-Key` header, are
/// retried; only when their body was fully buffered (≤ `buffer_body`); never once a response head
/// was passed on to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in total, the first one included (1 = no retry). Default 2.
    pub attempts: u32,
    /// The failures that are retried. Default connect errors, resets, timeouts, 502, 503, 504.
    pub on: Vec<RetryOn>,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// Methods retried without an `Idempotency-Key`. Default GET, HEAD, OPTIONS, PUT, DELETE.
    pub methods: Vec<Method>,
    /// Largest request body kept in memory to be replayed; larger bodies are streamed and such a
    /// request is never retried. Default 64 KiB.
    pub buffer_body: u64,
}

impl RetryPolicy {
    /// A policy that never retries (`retry: false`).
    pub fn off() -> RetryPolicy {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 2,
            on: vec![
                RetryOn::ConnectError,
                RetryOn::Reset,
                RetryOn::Timeout,
                RetryOn::Status(502),
                RetryOn::Status(503),
                RetryOn::Status(504),
            ],
            backoff: Backoff::default(),
            methods: vec![
                Method::GET,
                Method::HEAD,
                Method::OPTIONS,
                Method::PUT,
                Method::DELETE,
            ],
            buffer_body: 64 * 1024,
        }
    }
}

/// A failure that may be retried (`retry.on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryOn {
    /// No connection could be made (refused, unreachable, connect timeout, TLS handshake).
    ConnectError,
    /// The connection broke before a response head arrived.
    Reset,
    /// No response head within the per-try timeout.
    Timeout,
    /// The upstream answered with this status (500–599, or 429).
    Status(u16),
}

/// Exponential backoff with full jitter: before retry `n` (1-based) the gateway waits a uniformly
/// random time in `[0, min(max, base × 2^(n-1))]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The first retry's upper bound. Default 25 ms.
    pub base: Duration,
    /// The largest wait; also the longest upstream `Retry-After` honoured. Default 1 s.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(25),
            max: Duration::from_secs(1),
        }
    }
}

/// The retry budget of a cluster (`upstreams.<name>.retry.budget`): over the last `window`,
/// retries may not exceed `ratio` × requests + `min_retries`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudget {
    /// Retries allowed per request over the window. Default 0.2.
    pub ratio: f64,
    /// The rolling window. Default 10 s.
    pub window: Duration,
    /// Retries always allowed in the window, whatever the traffic. Default 3.
    pub min_retries: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            ratio: 0.2,
            window: Duration::from_secs(10),
            min_retries: 3,
        }
    }
}
