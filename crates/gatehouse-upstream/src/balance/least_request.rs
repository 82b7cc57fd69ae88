//! Least request: power of two random choices, weighted.

use rand::Rng;

use super::{Balancer, TargetSet, nth_usable, usable_count};

/// Least request by the power of two choices.
///
/// Draws two distinct usable targets uniformly at random and keeps the less loaded one, the load
/// of a target being `(in_flight + 1) / weight` (so with equal weights: fewer requests in flight
/// wins; with nothing in flight: the heavier target wins). Ties keep the first draw. One usable
/// target is always picked; no usable target gives `None`.
#[derive(Debug)]
pub struct LeastRequest {
    weights: Vec<u32>,
}

impl LeastRequest {
    /// Builds the policy for targets with these weights (in cluster order).
    pub fn new(weights: &[u32]) -> Self {
        LeastRequest {
            weights: weights.to_vec(),
        }
    }

    /// [`Balancer::pick`] with a caller-provided random source (seeded in tests).
    pub fn pick_with<R: Rng + ?Sized>(
        &self,
        targets: &dyn TargetSet,
        rng: &mut R,
    ) -> Option<usize> {
        let count = usable_count(targets);
        match count {
            0 => return None,
            1 => return nth_usable(targets, 0),
            _ => {}
        }
        let first = rng.random_range(0..count);
        let mut second = rng.random_range(0..count - 1);
        if second >= first {
            second += 1;
        }
        // Health may change between scans: a vanished draw falls back on the first usable target.
        let a = nth_usable(targets, first).or_else(|| nth_usable(targets, 0))?;
        let b = nth_usable(targets, second).unwrap_or(a);
        // load(a) <= load(b)  <=>  (in_a + 1) * w_b <= (in_b + 1) * w_a, exact in u128.
        let load = |i: usize, other: usize| {
            u128::from(targets.in_flight(i).saturating_add(1)) * u128::from(self.weight(other))
        };
        if load(a, b) <= load(b, a) {
            Some(a)
        } else {
            Some(b)
        }
    }

    fn weight(&self, index: usize) -> u32 {
        self.weights.get(index).copied().unwrap_or(1).max(1)
    }
}

impl Balancer for LeastRequest {
    fn pick(&self, targets: &dyn TargetSet, _key: u64) -> Option<usize> {
        self.pick_with(targets, &mut rand::rng())
    }
}
