//! The data plane's error type and the one place errors become HTTP responses.

use std::time::Duration;

use http::StatusCode;

/// Where an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The client sent something we refuse.
    Downstream,
    /// The upstream failed or timed out.
    Upstream,
    /// Our own fault (a plugin failed, a bug).
    Internal,
}

/// A data-plane error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed request (bad path, bad framing): 400.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No route matched: 404.
    #[error("no route matched")]
    NoRoute,
    /// The request body is larger than allowed: 413.
    #[error("request body too large")]
    BodyTooLarge,
    /// The request head is larger, or has more headers, than allowed: 431.
    #[error("request head too large")]
    HeadTooLarge,
    /// The client stalled mid-body for longer than `limits.body_read_timeout`: 408.
    #[error("request body read timed out")]
    BodyReadTimeout,
    /// The route's cluster has no healthy target: 503.
    #[error("no healthy upstream target")]
    NoHealthyTarget,
    /// The upstream refused, reset or answered garbage: 502.
    #[error("upstream failed: {0}")]
    Upstream(#[source] gatehouse_upstream::UpstreamError),
    /// The upstream did not answer in time: 504.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// A plugin failed: 500.
    #[error(transparent)]
    Plugin(#[from] gatehouse_plugins::Error),
    /// The cluster's circuit breaker, or every usable target's, is open: 503 with `Retry-After`.
    #[error("upstream circuit open")]
    CircuitOpen {
        /// Remaining cool-down (sent as `Retry-After`, rounded up to whole seconds, at least 1).
        retry_after: Duration,
    },
    /// The route's or cluster's bulkhead is full (queue full or queue timeout): 503.
    #[error("bulkhead full ({0})")]
    BulkheadFull(&'static str),
    /// The gateway sheds load (too many requests in flight, or too much memory): 503 with
    /// `Retry-After`.
    #[error("load shed: {reason}")]
    Overloaded {
        /// `in_flight` or `memory`.
        reason: &'static str,
        /// Sent as `Retry-After`.
        retry_after: Duration,
    },
    /// A configuration file was refused.
    #[error(transparent)]
    Config(#[from] gatehouse_config::ConfigError),
    /// A configuration could not be turned into a runtime snapshot.
    #[error("configuration cannot be applied: {0}")]
    Build(String),
    /// A listener could not be bound or set up.
    #[error("listener `{name}`: {message}")]
    Listener {
        /// Listener name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

impl From<gatehouse_upstream::Unavailable> for Error {
    fn from(u: gatehouse_upstream::Unavailable) -> Self {
        match u {
            gatehouse_upstream::Unavailable::NoTarget => Error::NoHealthyTarget,
            gatehouse_upstream::Unavailable::CircuitOpen { retry_after } => {
                Error::CircuitOpen { retry_after }
            }
        }
    }
}

impl Error {
    /// Where the error came from.
    pub fn source_kind(&self) -> Source {
        match self {
            Error::BadRequest(_)
            | Error::NoRoute
            | Error::BodyTooLarge
            | Error::HeadTooLarge
            | Error::BodyReadTimeout => Source::Downstream,
            Error::NoHealthyTarget | Error::Upstream(_) | Error::UpstreamTimeout => {
                Source::Upstream
            }
            // Expected refusals under stress, counted by metrics: logged at debug level only.
            Error::CircuitOpen { .. } | Error::BulkheadFull(_) | Error::Overloaded { .. } => {
                Source::Downstream
            }
            Error::Plugin(_) | Error::Config(_) | Error::Build(_) | Error::Listener { .. } => {
                Source::Internal
            }
        }
    }

    /// Whether repeating the request elsewhere could succeed (the request itself was fine).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Error::NoHealthyTarget | Error::Upstream(_) | Error::UpstreamTimeout
        )
    }

    /// The status sent to the client.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NoRoute => StatusCode::NOT_FOUND,
            Error::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::BodyReadTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::NoHealthyTarget
            | Error::CircuitOpen { .. }
            | Error::BulkheadFull(_)
            | Error::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Upstream(_) => StatusCode::BAD_GATEWAY,
            Error::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Error::Plugin(_) | Error::Config(_) | Error::Build(_) | Error::Listener { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The `detail` sent to the client: fixed text per kind, never internal detail.
    pub fn public_detail(&self) -> &'static str {
        match self {
            Error::BadRequest(reason) => reason,
            Error::NoRoute => "no route matches this request",
            Error::BodyTooLarge => "the request body is larger than allowed",
            Error::HeadTooLarge => "the request headers are larger than allowed",
            Error::BodyReadTimeout => "the request body was not received in time",
            Error::NoHealthyTarget => "no healthy upstream target is available",
            Error::CircuitOpen { .. } => "the upstream service is unavailable; retry later",
            Error::BulkheadFull(_) => "too many concurrent requests for this service",
            Error::Overloaded { .. } => "the gateway is overloaded; retry later",
            Error::Upstream(_) => "the upstream service failed to answer",
            Error::UpstreamTimeout => "the upstream service did not answer in time",
            Error::Plugin(_) | Error::Config(_) | Error::Build(_) | Error::Listener { .. } => {
                "internal error"
            }
        }
    }

    /// When the client may retry: for an open circuit, a full bulkhead and load shedding.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::CircuitOpen { retry_after } | Error::Overloaded { retry_after, .. } => {
                Some(*retry_after)
            }
            Error::BulkheadFull(_) => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    /// The `application/problem+json` response for this error (with `Retry-After` in whole
    /// seconds, at least 1, when [`retry_after`](Self::retry_after) says so).
    pub fn to_response(&self, request_id: &str) -> http::Response<bytes::Bytes> {
        let mut response = gatehouse_plugins::problem::problem_response(
            self.status(),
            self.public_detail(),
            request_id,
        );
        if let Some(after) = self.retry_after() {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            let value = http::HeaderValue::from(secs.max(1));
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}
