//! The data plane's error type and the one place errors become HTTP responses.

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

impl Error {
    /// Where the error came from.
    pub fn source_kind(&self) -> Source {
        match self {
            Error::BadRequest(_) | Error::NoRoute | Error::BodyTooLarge | Error::HeadTooLarge => {
                Source::Downstream
            }
            Error::NoHealthyTarget | Error::Upstream(_) | Error::UpstreamTimeout => {
                Source::Upstream
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
            Error::NoHealthyTarget => StatusCode::SERVICE_UNAVAILABLE,
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
            Error::NoHealthyTarget => "no healthy upstream target is available",
            Error::Upstream(_) => "the upstream service failed to answer",
            Error::UpstreamTimeout => "the upstream service did not answer in time",
            Error::Plugin(_) | Error::Config(_) | Error::Build(_) | Error::Listener { .. } => {
                "internal error"
            }
        }
    }

    /// The `application/problem+json` response for this error.
    pub fn to_response(&self, request_id: &str) -> http::Response<bytes::Bytes> {
        gatehouse_plugins::problem::problem_response(
            self.status(),
            self.public_detail(),
            request_id,
        )
    }
}
