//! The Gatehouse plugin pipeline and the built-in plugins.
//!
//! A [`Plugin`] has one hook per phase of a request's life, each a documented no-op by default.
//! Chains are compiled per route when the configuration is loaded ([`Chain::compile`]); the data plane
//! runs them in order and stops at the first [`Flow::Respond`] or error. The data plane never knows a
//! plugin by name: it only sees chains.

pub mod auth;
mod chain;
mod context;
mod error;
mod identity;
mod plugin;
pub mod response_cache;

pub mod builtin;
pub mod http_client;
pub mod problem;

pub use chain::Chain;
pub use context::{ClientCert, LogRecord, RequestContext, TlsInfo, TraceContext};
pub use error::{Error, Result};
pub use identity::{ConsumerRegistry, Identity, header_safe};
pub use plugin::{Flow, LocalResponse, Phases, Plugin};
pub use problem::problem_response;
pub use response_cache::ResponseCache;
