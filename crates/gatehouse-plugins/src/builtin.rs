//! The built-in plugins, one file each, and the one place that maps settings to instances.
//!
//! Default priorities (higher runs first within a phase; a `priority:` in config overrides them) are
//! the constants in [`priority`]; `docs/plugins.md` has the same table.

use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_config::model::{Plan, PluginConfig};

use crate::auth::Authenticator;
use crate::{ConsumerRegistry, Plugin, Result};

pub mod cache;
pub mod cors;
pub mod fault_injection;
pub mod headers;
pub mod introspection;
pub mod ip_restriction;
pub mod jwt;
pub mod key_auth;
pub mod mtls;
pub mod opa;
pub mod rate_limit;
pub mod rbac;
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
    /// The route's authentication step (every authentication method of the route, combined).
    pub const AUTHENTICATION: i32 = 15_000;
    /// `rbac`: after authentication.
    pub const RBAC: i32 = 14_000;
    /// `opa`: after `rbac`.
    pub const OPA: i32 = 13_000;
    /// Rate limiting and quotas: `5_000..=9_999` (reserved).
    pub const RATE_LIMIT_RANGE: std::ops::RangeInclusive<i32> = 5_000..=9_999;
    /// `rate_limit`: after authorization, so the consumer and its plan are known.
    pub const RATE_LIMIT: i32 = 7_000;
    /// `request_size_limit`: after authentication and rate limits.
    pub const REQUEST_SIZE_LIMIT: i32 = 4_000;
    /// `fault_injection`: after authentication, authorization and limits, so that injected
    /// faults only reach clients that would otherwise be proxied (and are counted by limits).
    pub const FAULT_INJECTION: i32 = 3_000;
    /// `request_headers`: transforms of the upstream request.
    pub const REQUEST_HEADERS: i32 = 1_000;
    /// `response_headers`: transforms of the response.
    pub const RESPONSE_HEADERS: i32 = 1_000;
}

/// What the built-in plugins may need from the whole configuration, built once per configuration.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// The configured consumers.
    pub consumers: Arc<ConsumerRegistry>,
    /// The configured plans by name (`limits: plan` of `rate_limit`).
    pub plans: Arc<HashMap<String, Plan>>,
    /// The process's rate limiters (kept across reloads while `store:` is unchanged).
    pub store: Arc<rate_limit::Limiters>,
    /// The claim paths of `identity.claim_headers`: an authenticated identity whose claim there
    /// cannot become a header value is refused. Default none.
    pub forwarded_claims: Arc<Vec<String>>,
}

/// A built plugin: a pipeline plugin, or an authentication method that the route's [`AuthGate`]
/// (crate::auth::AuthGate) runs.
#[derive(Clone)]
pub enum Built {
    /// Runs in the chain's phases.
    Plugin(Arc<dyn Plugin>),
    /// Runs inside the route's authentication step.
    Authenticator(Arc<dyn Authenticator>),
}

/// Builds the plugin described by `config`.
///
/// Fails with [`crate::Error::Build`] only for settings the model cannot rule out (an invalid
/// `ip_restriction` status, a CORS pattern that does not compile once anchored, an unreadable
/// policy file, …).
pub fn build(config: &PluginConfig, cx: &BuildContext) -> Result<Built> {
    Ok(Built::Plugin(match config {
        PluginConfig::RequestId(c) => Arc::new(request_id::RequestId::new(c)),
        PluginConfig::RequestHeaders(ops) => Arc::new(headers::RequestHeaders::new(ops)),
        PluginConfig::ResponseHeaders(ops) => Arc::new(headers::ResponseHeaders::new(ops)),
        PluginConfig::IpRestriction(c) => Arc::new(ip_restriction::IpRestriction::new(c)?),
        PluginConfig::Cors(c) => Arc::new(cors::Cors::new(c)?),
        PluginConfig::RequestSizeLimit(c) => Arc::new(request_size_limit::RequestSizeLimit::new(c)),
        PluginConfig::RateLimit(c) => Arc::new(
            rate_limit::RateLimit::new(c, cx.plans.clone(), &cx.store).map_err(|message| {
                crate::Error::Build {
                    plugin: "rate_limit",
                    message,
                }
            })?,
        ),
        PluginConfig::KeyAuth(c) => {
            return Ok(Built::Authenticator(Arc::new(key_auth::KeyAuth::new(
                c, cx,
            )?)));
        }
        PluginConfig::Jwt(c) => {
            let jwt =
                jwt::Jwt::new(c, cx.consumers.clone()).map_err(|message| crate::Error::Build {
                    plugin: "jwt",
                    message,
                })?;
            return Ok(Built::Authenticator(Arc::new(jwt)));
        }
        PluginConfig::Introspection(c) => {
            return Ok(Built::Authenticator(Arc::new(
                introspection::Introspection::new(c, cx.consumers.clone())?,
            )));
        }
        PluginConfig::Mtls(c) => {
            return Ok(Built::Authenticator(Arc::new(mtls::Mtls::new(
                c,
                cx.consumers.clone(),
            ))));
        }
        PluginConfig::Rbac(c) => Arc::new(rbac::Rbac::new(c)),
        PluginConfig::Opa(c) => Arc::new(opa::Opa::new(c)?),
        PluginConfig::FaultInjection(c) => Arc::new(fault_injection::FaultInjection::new(c)),
        PluginConfig::Cache(c) => Arc::new(cache::Cache::new(c)?),
    }))
}
