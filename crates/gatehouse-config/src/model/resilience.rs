//! Resilience settings (issue 5): retries, circuit breakers, bulkheads, load shedding, mirroring.

/// Retries, circuit breaking and bulkheads towards one upstream cluster (`upstreams.<name>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamResilience {}

/// Per-route resilience settings (`routes[].…`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteResilience {
    /// Copies of a share of the route's requests to another cluster (`routes[].mirror`);
    /// `None` = off.
    pub mirror: Option<super::MirrorConfig>,
}

/// Gateway-wide load shedding (`server.load_shedding`); default off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadShedding {}
