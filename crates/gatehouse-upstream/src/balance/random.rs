//! Weighted random.

use rand::Rng;

use super::{Balancer, TargetSet};

/// Weighted random: each usable target is picked with probability `weight / sum(usable weights)`.
#[derive(Debug)]
pub struct WeightedRandom {
    weights: Vec<u64>,
}

impl WeightedRandom {
    /// Builds the policy for targets with these weights (in cluster order).
    pub fn new(weights: &[u32]) -> Self {
        WeightedRandom {
            weights: weights.iter().map(|&w| u64::from(w.max(1))).collect(),
        }
    }

    /// [`Balancer::pick`] with a caller-provided random source (seeded in tests).
    pub fn pick_with<R: Rng + ?Sized>(
        &self,
        targets: &dyn TargetSet,
        rng: &mut R,
    ) -> Option<usize> {
        let n = self.weights.len().min(targets.len());
        let usable = |i: &usize| targets.usable(*i);
        let total: u64 = (0..n).filter(usable).map(|i| self.weights[i]).sum();
        if total == 0 {
            return None;
        }
        let mut draw = rng.random_range(0..total);
        // Health may change between the two scans: fall back on the last usable target seen.
        let mut last = None;
        for i in (0..n).filter(usable) {
            if draw < self.weights[i] {
                return Some(i);
            }
            draw -= self.weights[i];
            last = Some(i);
        }
        last
    }
}

impl Balancer for WeightedRandom {
    fn pick(&self, targets: &dyn TargetSet, _key: u64) -> Option<usize> {
        self.pick_with(targets, &mut rand::rng())
    }
}
