//! Gatehouse upstream clusters.
//!
//! A [`Cluster`] is built once per configured [`Upstream`](gatehouse_config::model::Upstream) and
//! shared by the data plane behind an `Arc`. It owns:
//!
//! - a pooled [`hyper_util`] legacy client over a TCP (+ optional rustls TLS) connector, speaking
//!   HTTP/1.1 (with upgrades) or HTTP/2 (h2c prior knowledge, or ALPN `h2` over TLS);
//! - a balancing policy (smooth weighted round robin, least request, weighted random, consistent
//!   hashing with Maglev or a ketama ring), see [`balance`];
//! - per-target health: active checks from a background task, passive ejection on observed failures.
//!
//! The request life through this crate: [`Cluster::select`] picks a target and returns a
//! [`Selected`] guard that counts the request in flight; [`Cluster::send`] sends the request to it
//! and records the outcome for passive health; the caller drops the guard once the response body is
//! done. `docs/upstreams.md` describes every policy and default precisely.

pub mod balance;

mod breaker;
pub mod budget;
mod bulkhead;
mod client;
mod cluster;
mod error;
mod health;
pub mod retry;
pub mod stream;

pub use breaker::{CircuitState, CircuitStatus, Unavailable};
pub use bulkhead::{Bulkhead, BulkheadFull, BulkheadPermit};
pub use cluster::{Cluster, Selected, TargetStatus, chunked_codings};
pub use error::{Error, UpstreamError};
pub use stream::MaybeTlsStream;

/// A boxed, thread-safe error, the error type of [`ProxyBody`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body type the data plane hands to [`Cluster::send`].
pub type ProxyBody = http_body_util::combinators::BoxBody<bytes::Bytes, BoxError>;
