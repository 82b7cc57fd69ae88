//! The Gatehouse response cache: an RFC 9111 subset for a shared cache, keys that cannot be forged
//! by unkeyed request headers, in-process (moka, bounded by bytes) or Redis storage, and request
//! coalescing. No HTTP server code: the data plane calls [`HttpCache::lookup`] after its access
//! phase and completes a miss through [`Fill`]. `docs/caching.md` describes the behaviour.

pub mod answer;
pub mod directives;
mod entry;
pub mod flight;
mod http_cache;
pub mod key;
pub mod metrics;
mod policy;
pub mod store;
pub mod tee;

pub use answer::{Outcome, X_CACHE};
pub use entry::Entry;
pub use http_cache::{Fill, HttpCache, Lookup, RequestFacts};
pub use metrics::CacheStats;
pub use policy::{Freshness, Policy};
pub use store::Purge;

/// The body type of responses passing through the cache (the data plane's upstream body).
pub type Body = http_body_util::combinators::BoxBody<bytes::Bytes, BoxError>;

/// A boxed, thread-safe error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The cache's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend could not be set up (invalid Redis URL).
    #[error("cache setup: {0}")]
    Setup(String),
    /// The backend did not answer in time or failed.
    #[error("cache backend unavailable: {0}")]
    Unavailable(String),
}
