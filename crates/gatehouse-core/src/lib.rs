//! The Gatehouse data plane: listeners, TLS, the pipeline driver, proxying, the runtime snapshot
//! and reload.
//!
//! ```text
//! client → listener (TCP/TLS, HTTP/1.1, HTTP/2) → normalize path → on_request (global plugins)
//!        → router → on_access → pick target → on_upstream_request → upstream
//!        → on_response → client → on_log
//! ```

mod access_log;
mod body;
mod cache_stage;
mod error;
mod gateway;
mod identity;
mod listener;
mod mirror;
mod proxy;
mod shed;
mod snapshot;
mod tls;
mod trace;
mod upstream_call;
mod usage;

/// The request's one authority (`Host`, `:authority`, absolute-form targets), checked once before
/// routing (public for the fuzz targets).
pub mod authority;
pub mod echo;
pub mod forwarding;
pub mod metrics;
/// The HTTP/1 request framing scanner that refuses heads with both `Content-Length` and
/// `Transfer-Encoding` (public for the fuzz targets).
pub use listener::framing;
pub mod reload;

pub use cache_stage::CacheTarget;
pub use error::{Error, Source};
pub use gateway::Gateway;
pub use snapshot::Snapshot;
