//! Refusals counted by reason without a lock or a map: a small fixed table of slots claimed
//! once by the first request with a new reason.

use std::sync::OnceLock;

use gatehouse_metrics::Counter;

/// Distinct reasons kept per route; more (there are fewer in the code base) count as `other`.
const SLOTS: usize = 24;

/// Counters by short-circuit reason. Reasons are `&'static str` written in the code (plugin
/// names or explicit reasons such as `rate_limited`), so the set is bounded.
#[derive(Default)]
pub(super) struct Reasons {
    slots: [OnceLock<&'static str>; SLOTS],
    counts: [Counter; SLOTS],
    other: Counter,
}

impl Reasons {
    /// Counts one refusal for `reason`.
    pub(super) fn inc(&self, reason: &'static str) {
        for (slot, count) in self.slots.iter().zip(&self.counts) {
            let claimed = slot.get_or_init(|| reason);
            if *claimed == reason {
                count.inc();
                return;
            }
        }
        self.other.inc();
    }

    /// Every reason seen so far with its count (`other` last, when used).
    pub(super) fn each(&self, mut f: impl FnMut(&str, u64)) {
        for (slot, count) in self.slots.iter().zip(&self.counts) {
            match slot.get() {
                Some(reason) => f(reason, count.get()),
                None => break,
            }
        }
        if self.other.get() > 0 {
            f("other", self.other.get());
        }
    }
}
