//! Maglev consistent hashing (Google's Maglev paper, with weights as in Envoy).

use gatehouse_config::model::Target;

use super::{Balancer, TargetSet, hash64};

/// Smallest lookup table size; prime.
const MIN_TABLE_SIZE: u64 = 65_537;
/// The table has at least this many entries per target.
const ENTRIES_PER_TARGET: u64 = 100;
const EMPTY: u32 = u32::MAX;
const OFFSET_SEED: u64 = 0x6d61_676c_6576_3031;
const SKIP_SEED: u64 = 0x6d61_676c_6576_3032;

/// Maglev lookup table.
///
/// The table has `M` entries, `M` the smallest prime ≥ max(65 537, 100 × targets). Each target
/// owns a permutation of the slots derived from its *address* (`offset = h1(addr) mod M`,
/// `skip = h2(addr) mod (M − 1) + 1`); targets take turns claiming their next free preferred slot
/// until the table is full, a target of weight `w` taking a turn in `w / max_weight` of the rounds.
/// A key maps to `table[key mod M]`. Removing one of N targets from the configuration moves about
/// `1/N` of the keys plus a small disruption (a few percent) among the others.
///
/// An unusable (unhealthy, ejected) target is skipped by walking to the next table entries until a
/// usable target is found: only the keys of unusable targets move, and they spread over the others
/// in proportion to their table share.
#[derive(Debug)]
pub struct Maglev {
    table: Vec<u32>,
}

impl Maglev {
    /// Builds the table for `targets` (in cluster order; indices in the table are positions).
    pub fn new(targets: &[Target]) -> Self {
        if targets.is_empty() {
            return Maglev { table: Vec::new() };
        }
        let n = targets.len();
        let m = table_size(n);
        let perms: Vec<(u64, u64)> = targets
            .iter()
            .map(|t| {
                let addr = t.address.as_bytes();
                (
                    hash64(addr, OFFSET_SEED) % m,
                    hash64(addr, SKIP_SEED) % (m - 1) + 1,
                )
            })
            .collect();
        let weights: Vec<u64> = targets.iter().map(|t| u64::from(t.weight.max(1))).collect();
        let max_weight = weights.iter().copied().max().unwrap_or(1);
        let mut next = vec![0u64; n];
        let mut credit = vec![0u64; n];
        // `m` fits in usize: it is at most a little over 100 × n.
        let mut table = vec![EMPTY; m as usize];
        let mut filled = 0u64;
        'fill: loop {
            for i in 0..n {
                credit[i] += weights[i];
                if credit[i] < max_weight {
                    continue;
                }
                credit[i] -= max_weight;
                let (offset, skip) = perms[i];
                // `skip` is coprime with the prime `m`: the walk visits every slot.
                loop {
                    let slot = ((offset + next[i] * skip) % m) as usize;
                    next[i] += 1;
                    if table[slot] == EMPTY {
                        table[slot] = i as u32;
                        filled += 1;
                        break;
                    }
                }
                if filled == m {
                    break 'fill;
                }
            }
        }
        Maglev { table }
    }

    /// The table size `M`.
    pub fn table_size(&self) -> usize {
        self.table.len()
    }
}

impl Balancer for Maglev {
    fn pick(&self, targets: &dyn TargetSet, key: u64) -> Option<usize> {
        let m = self.table.len();
        if m == 0 {
            return None;
        }
        let start = (key % m as u64) as usize;
        (0..m)
            .map(|step| self.table[(start + step) % m] as usize)
            .find(|&i| i < targets.len() && targets.usable(i))
    }

    fn uses_key(&self) -> bool {
        true
    }
}

/// Smallest prime ≥ max(65 537, 100 × `targets`).
fn table_size(targets: usize) -> u64 {
    let mut m = (targets as u64)
        .saturating_mul(ENTRIES_PER_TARGET)
        .max(MIN_TABLE_SIZE);
    while !is_prime(m) {
        m += 1;
    }
    m
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2u64;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}
