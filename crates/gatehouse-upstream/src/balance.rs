//! Balancing policies: which target of a cluster serves a request.
//!
//! Every policy implements [`Balancer`]: it is built once from the cluster's targets (addresses and
//! weights) and then asked to [`pick`](Balancer::pick) among the targets a [`TargetSet`] reports
//! usable (healthy and not ejected). Picking never awaits; the only lock is round robin's short
//! critical section.

mod hash;
mod key;
mod least_request;
mod maglev;
mod random;
mod ring;
mod round_robin;

#[cfg(test)]
mod tests;

use gatehouse_config::model::{Balance, HashAlgorithm, Target};

pub use hash::hash64;
pub use key::request_key;
pub use least_request::LeastRequest;
pub use maglev::Maglev;
pub use random::WeightedRandom;
pub use ring::Ring;
pub use round_robin::RoundRobin;

/// The live view of a cluster's targets that a [`Balancer`] picks from.
///
/// Indices are positions in the cluster's target list, `0..len()`.
pub trait TargetSet {
    /// Number of targets (usable or not).
    fn len(&self) -> usize;

    /// Whether there are no targets at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether target `index` may receive requests (healthy, not ejected, not excluded).
    fn usable(&self, index: usize) -> bool;

    /// Requests currently in flight to target `index` (used by [`LeastRequest`]).
    fn in_flight(&self, index: usize) -> u64;
}

/// A balancing policy.
pub trait Balancer: Send + Sync + std::fmt::Debug {
    /// Picks a usable target, or `None` when no target is usable.
    ///
    /// `key` is the request's hash key (see [`request_key`]); only consistent-hash policies read it.
    fn pick(&self, targets: &dyn TargetSet, key: u64) -> Option<usize>;

    /// Whether this policy reads the request key (so the caller computes it only when needed).
    fn uses_key(&self) -> bool {
        false
    }
}

/// Builds the balancer of `balance` over `targets` (in cluster order).
pub fn build(balance: &Balance, targets: &[Target]) -> Box<dyn Balancer> {
    let weights: Vec<u32> = targets.iter().map(|t| t.weight.max(1)).collect();
    match balance {
        Balance::RoundRobin => Box::new(RoundRobin::new(&weights)),
        Balance::LeastRequest => Box::new(LeastRequest::new(&weights)),
        Balance::Random => Box::new(WeightedRandom::new(&weights)),
        Balance::ConsistentHash {
            algorithm: HashAlgorithm::Maglev,
            ..
        } => Box::new(Maglev::new(targets)),
        Balance::ConsistentHash {
            algorithm: HashAlgorithm::Ring,
            ..
        } => Box::new(Ring::new(targets)),
    }
}

/// Returns the `rank`-th usable target index (0-based), scanning in index order.
fn nth_usable(targets: &dyn TargetSet, rank: usize) -> Option<usize> {
    (0..targets.len()).filter(|&i| targets.usable(i)).nth(rank)
}

/// Number of usable targets.
fn usable_count(targets: &dyn TargetSet) -> usize {
    (0..targets.len()).filter(|&i| targets.usable(i)).count()
}
