//! The built-in plugins, one file each, and the one place that maps settings to instances.
//!
//! Default priorities (higher runs first within a phase; a `priority:` in config overrides them) are
//! the constants in [`priority`]; `docs/plugins.md` has the same table.

use std::sync::Arc;

use gatehouse_config::model::PluginConfig;

use crate::{Plugin, Result};

pub mod cors;
pub mod headers;
pub mod ip_restriction;
pub mod request_id;
pub mod request_size_limit;

#[cfg(test)]
mod testing;

/// Default priorities of the built-in plugins, and the ranges reserved for plugin families.
pub mod priority {
    /// `request_id`: first, so every later plugin, log line and error sees the final id.
    pub const REQUEST_ID: i32 = 100_000;
    /// `ip_restriction`: cheapest refusal, before any other work.
    pub const IP_RESTRICTION: i32 = 30_000;
    /// `cors`: answers preflights before authentication (browsers send them without credentials).
    pub const CORS: i32 = 20_000;
    /// Authentication and authorization plugins: `10_000..=19_999` (reserved).
    pub const AUTH_RANGE: std::ops::RangeInclusive<i32> = 10_000..=19_999;
    /// Rate limiting and quotas: `5_000..=9_999` (reserved).
    pub const RATE_LIMIT_RANGE: std::ops::RangeInclusive<i32> = 5_000..=9_999;
    /// `request_size_limit`: after authentication and rate limits.
    pub const REQUEST_SIZE_LIMIT: i32 = 4_000;
    /// `request_headers`: transforms of the upstream request.
    pub const REQUEST_HEADERS: i32 = 1_000;
    /// `response_headers`: transforms of the response.
    pub const RESPONSE_HEADERS: i32 = 1_000;
}

/// Builds the plugin described by `config`.
///
/// Fails with [`crate::Error::Build`] only for settings the model cannot rule out (an invalid
/// `ip_restriction` status, a CORS pattern that does not compile once anchored).
pub fn build(config: &PluginConfig) -> Result<Arc<dyn Plugin>> {
    Ok(match config {
        PluginConfig::RequestId(c) => Arc::new(request_id::RequestId::new(c)),
        PluginConfig::RequestHeaders(ops) => Arc::new(headers::RequestHeaders::new(ops)),
        PluginConfig::ResponseHeaders(ops) => Arc::new(headers::ResponseHeaders::new(ops)),
        PluginConfig::IpRestriction(c) => Arc::new(ip_restriction::IpRestriction::new(c)?),
        PluginConfig::Cors(c) => Arc::new(cors::Cors::new(c)?),
        PluginConfig::RequestSizeLimit(c) => Arc::new(request_size_limit::RequestSizeLimit::new(c)),
    })
}
