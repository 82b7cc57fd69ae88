//! Smooth weighted round robin (nginx's algorithm).

use std::sync::{Mutex, PoisonError};

use super::{Balancer, TargetSet};

/// Smooth weighted round robin.
///
/// Each pick adds every usable target's weight to its current weight, picks the target with the
/// highest current weight (the first one on ties) and subtracts the total usable weight from it.
/// Over a cycle of `sum(weights)` picks each target is chosen exactly `weight` times, spread out
/// (weights 5, 1, 1 give `a a b a c a a`). Unusable targets are left out of the round: neither
/// their weight nor their current weight moves.
///
/// The state is a short `Mutex`-guarded vector, held only for the `O(targets)` scan, never
/// across an await.
#[derive(Debug)]
pub struct RoundRobin {
    weights: Vec<i64>,
    current: Mutex<Vec<i64>>,
}

impl RoundRobin {
    /// Builds the policy for targets with these weights (in cluster order).
    pub fn new(weights: &[u32]) -> Self {
        RoundRobin {
            weights: weights.iter().map(|&w| i64::from(w)).collect(),
            current: Mutex::new(vec![0; weights.len()]),
        }
    }
}

impl Balancer for RoundRobin {
    fn pick(&self, targets: &dyn TargetSet, _key: u64) -> Option<usize> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        let n = self.weights.len().min(targets.len());
        for i in 0..n {
            if !targets.usable(i) {
                continue;
            }
            current[i] += self.weights[i];
            total += self.weights[i];
            if best.is_none_or(|b| current[i] > current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        current[best] -= total;
        Some(best)
    }
}
