//! The crate's one error type.

use std::time::Duration;

use crate::BoxError;

/// Everything that can go wrong in this crate: building a cluster, or sending to a target.
///
/// Messages name the cluster or target and are meant for logs, never for clients: the data plane
/// maps [`Error::Connect`] and [`Error::Other`] to 502 and [`Error::Timeout`] to 504 (see
/// [`Error::is_timeout`]), and [`Error::Build`] only happens when a cluster is built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster could not be built (unreadable CA file, invalid target address, ...).
    #[error("upstream `{cluster}`: {message}")]
    Build {
        /// Name of the cluster.
        cluster: String,
        /// What is wrong.
        message: String,
    },
    /// No connection could be made to the target (refused, DNS, TLS handshake, connect timeout).
    #[error("connect to upstream target {target} failed: {source}")]
    Connect {
        /// Address of the target.
        target: String,
        /// The underlying error chain.
        #[source]
        source: BoxError,
    },
    /// The response head did not arrive within the cluster's request timeout.
    #[error("upstream target {target} sent no response head within {timeout:?}")]
    Timeout {
        /// Address of the target.
        target: String,
        /// The request timeout that elapsed.
        timeout: Duration,
    },
    /// The exchange failed after connecting (connection reset, protocol error, body error, ...).
    #[error("request to upstream target {target} failed: {source}")]
    Other {
        /// Address of the target.
        target: String,
        /// The underlying error chain.
        #[source]
        source: BoxError,
    },
}

/// The errors of [`Cluster::send`](crate::Cluster::send): the same type as [`Error`], named for
/// what the data plane handles.
pub type UpstreamError = Error;

impl Error {
    /// Whether this is a request timeout (the data plane answers 504; other send errors get 502).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether no connection could be made to the target.
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// Whether the connect timeout elapsed (a [`Error::Connect`]).
    pub fn is_connect_timeout(&self) -> bool {
        let Error::Connect { source, .. } = self else {
            return false;
        };
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(err) = next {
            if err.is::<crate::client::ConnectTimedOut>() {
                return true;
            }
            next = err.source();
        }
        false
    }

    /// Whether the exchange failed because of the request body the caller supplied (the
    /// downstream side), not the target.
    pub fn is_request_body(&self) -> bool {
        match self {
            Error::Other { source, .. } => {
                let mut next: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
                while let Some(err) = next {
                    if let Some(hyper_err) = err.downcast_ref::<hyper::Error>() {
                        return hyper_err.is_user();
                    }
                    next = err.source();
                }
                false
            }
            _ => false,
        }
    }

    pub(crate) fn build(cluster: &str, message: impl Into<String>) -> Self {
        Error::Build {
            cluster: cluster.to_owned(),
            message: message.into(),
        }
    }
}
