//! Lock-free metric primitives and their Prometheus / OpenMetrics text exposition.
//!
//! Recording is a relaxed atomic add: no lock, no allocation, no label lookup on the hot path.
//! Subsystems resolve their handles (one [`Counter`] or [`Histogram`] per route, cluster, …) when
//! a configuration is built, keep them beside the thing they measure, and implement
//! [`Collector`] to write them out. [`Registry`] holds weak references to collectors, so a
//! subsystem dropped by a reload disappears from the exposition by itself.

mod encode;
mod primitives;
mod registry;

#[cfg(test)]
mod tests;

pub use encode::{Encoder, Format, Kind};
pub use primitives::{Counter, Gauge, Histogram, LATENCY_BUCKETS};
pub use registry::{Collector, Registry};
