//! `ip_restriction`: allow and deny lists of networks, checked on the client IP.

use std::net::IpAddr;

use async_trait::async_trait;
use gatehouse_config::model::IpRestrictionConfig;
use http::{StatusCode, request};
use ipnet::{IpNet, Ipv4Net};

use crate::problem::problem_response;
use crate::{Error, Flow, Phases, Plugin, RequestContext, Result};

/// The `ip_restriction` plugin (`on_access`), on [`RequestContext::client_ip`]:
///
/// 1. an address in `deny` is refused (deny wins over allow);
/// 2. with a non-empty `allow`, an address in none of its networks is refused;
/// 3. everything else passes.
///
/// A refusal is a `problem+json` answer with the configured status (default 403). IPv4-mapped IPv6
/// addresses (`::ffff:192.0.2.1`) are matched as the IPv4 address they carry, and networks written
/// inside `::ffff:0:0/96` as the IPv4 networks they stand for.
#[derive(Debug)]
pub struct IpRestriction {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    status: StatusCode,
}

/// The address with IPv4-mapped IPv6 addresses unwrapped.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The network with IPv4-mapped IPv6 networks (`::ffff:a.b.c.d/96+n`) unwrapped to `a.b.c.d/n`.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}

impl IpRestriction {
    /// Builds the plugin; fails if `status` is not a valid HTTP status code.
    pub fn new(config: &IpRestrictionConfig) -> Result<Self> {
        let status = StatusCode::from_u16(config.status).map_err(|_| Error::Build {
            plugin: "ip_restriction",
            message: format!("invalid status {}", config.status),
        })?;
        Ok(IpRestriction {
            allow: config.allow.iter().copied().map(canonical_net).collect(),
            deny: config.deny.iter().copied().map(canonical_net).collect(),
            status,
        })
    }

    /// Whether `ip` may pass.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }
}

#[async_trait]
impl Plugin for IpRestriction {
    fn name(&self) -> &'static str {
        "ip_restriction"
    }

    fn priority(&self) -> i32 {
        super::priority::IP_RESTRICTION
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    async fn on_access(&self, cx: &mut RequestContext, _req: &mut request::Parts) -> Result<Flow> {
        if self.allows(cx.client_ip) {
            return Ok(Flow::Continue);
        }
        tracing::debug!(client_ip = %cx.client_ip, "ip_restriction: refused");
        Ok(Flow::Respond(problem_response(
            self.status,
            "The client address is not allowed to access this resource.",
            &cx.request_id,
        )))
    }
}

#[cfg(test)]
mod tests;
