//! Ketama-style hash ring with virtual nodes.

use gatehouse_config::model::Target;

use super::{Balancer, TargetSet, hash64};

/// Virtual nodes per unit of weight.
pub const VNODES_PER_WEIGHT: u64 = 160;
/// Upper bound on ring points; larger weight sums are scaled down proportionally.
pub const MAX_POINTS: u64 = 1 << 20;

/// Consistent-hash ring (ketama style).
///
/// Each target places `160 × weight` points on a 64-bit ring, point `v` at `h(address, seed v)`
/// (scaled down proportionally, at least one point per target, when the total would exceed
/// 2²⁰ points). A key maps to the target of the first point at or after it, wrapping around. An
/// unusable target is skipped by walking clockwise to the next point of a usable target, so only
/// its keys move, and removing a target from the configuration moves only its own keys.
#[derive(Debug)]
pub struct Ring {
    points: Vec<(u64, u32)>,
}

impl Ring {
    /// Builds the ring for `targets` (in cluster order; points carry target positions).
    pub fn new(targets: &[Target]) -> Self {
        let total: u64 = targets
            .iter()
            .map(|t| u64::from(t.weight.max(1)) * VNODES_PER_WEIGHT)
            .sum();
        let mut points = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let wanted = u64::from(t.weight.max(1)) * VNODES_PER_WEIGHT;
            let vnodes = if total > MAX_POINTS {
                (wanted.saturating_mul(MAX_POINTS) / total).max(1)
            } else {
                wanted
            };
            points.extend((0..vnodes).map(|v| (hash64(t.address.as_bytes(), v), i as u32)));
        }
        points.sort_unstable();
        Ring { points }
    }

    /// Number of points on the ring.
    pub fn points(&self) -> usize {
        self.points.len()
    }
}

impl Balancer for Ring {
    fn pick(&self, targets: &dyn TargetSet, key: u64) -> Option<usize> {
        let len = self.points.len();
        if len == 0 {
            return None;
        }
        let start = self.points.partition_point(|&(point, _)| point < key);
        (0..len)
            .map(|step| self.points[(start + step) % len].1 as usize)
            .find(|&i| i < targets.len() && targets.usable(i))
    }

    fn uses_key(&self) -> bool {
        true
    }
}
