//! Rolling quota periods (`rolling_day`, `rolling_month`): a sliding window over sub-buckets.
//!
//! Time is cut into buckets of [`RollingWindow::bucket_secs`] (an hour for `rolling_day`, a day
//! for `rolling_month`), aligned to the Unix epoch (so to UTC hours and days). A request counts
//! in the bucket of its moment; at `now`, the quota counts the **current bucket and the
//! [`RollingWindow::buckets`] before it** (24 hours + the current hour; 30 days + the current
//! day). That is conservative: no span of 24 hours (30 days) ever holds more than `requests`
//! counted requests, and a request stops counting between 24 and 25 hours (30 and 31 days) after
//! it was made, at the end of the bucket `buckets` after its own.

#[cfg(test)]
mod tests;

use gatehouse_config::model::QuotaPeriod;

/// The bucket layout of a rolling period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingWindow {
    /// Seconds per bucket.
    pub bucket_secs: u64,
    /// Buckets counted besides the current one (the period in buckets).
    pub buckets: u64,
}

impl RollingWindow {
    /// The layout of `period`; `None` for calendar periods.
    pub fn of(period: QuotaPeriod) -> Option<RollingWindow> {
        match period {
            QuotaPeriod::RollingDay => Some(RollingWindow {
                bucket_secs: 3_600,
                buckets: 24,
            }),
            QuotaPeriod::RollingMonth => Some(RollingWindow {
                bucket_secs: 86_400,
                buckets: 30,
            }),
            QuotaPeriod::Day | QuotaPeriod::Month => None,
        }
    }

    /// The bucket of `now_unix`.
    pub fn bucket(&self, now_unix: u64) -> u64 {
        now_unix / self.bucket_secs.max(1)
    }

    /// The oldest bucket still counted at `now_unix`.
    pub fn oldest(&self, now_unix: u64) -> u64 {
        self.bucket(now_unix).saturating_sub(self.buckets)
    }

    /// When (Unix seconds) bucket `b` stops counting.
    pub fn leaves_at(&self, b: u64) -> u64 {
        b.saturating_add(self.buckets)
            .saturating_add(1)
            .saturating_mul(self.bucket_secs)
    }

    /// When the last of `buckets` (bucket, count) stops counting: the quota is fully restored.
    pub fn restored_at(&self, buckets: &[(u64, u64)]) -> Option<u64> {
        buckets
            .iter()
            .filter(|(_, c)| *c > 0)
            .map(|(b, _)| self.leaves_at(*b))
            .max()
    }

    /// The first moment at which `cost` more fits within `limit`, given the counted `buckets`
    /// (assuming nothing else is counted meanwhile); `None` when `cost` alone exceeds `limit`.
    pub fn fits_at(&self, buckets: &[(u64, u64)], cost: u64, limit: u64) -> Option<u64> {
        if cost > limit {
            return None;
        }
        let mut sorted: Vec<(u64, u64)> = buckets.to_vec();
        sorted.sort_unstable();
        let mut used: u64 = sorted.iter().map(|(_, c)| *c).sum();
        if used.saturating_add(cost) <= limit {
            return Some(0);
        }
        for (b, c) in sorted {
            used = used.saturating_sub(c);
            if used.saturating_add(cost) <= limit {
                return Some(self.leaves_at(b));
            }
        }
        Some(0)
    }
}

/// The outcome of counting a request against a rolling quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingOutcome {
    /// Whether the cost was added (it fitted within the limit).
    pub added: bool,
    /// Requests counted in the window after this call.
    pub used: u64,
    /// Seconds until the quota is fully restored (nothing counted any more); 0 when empty.
    pub restored_in: u64,
    /// When refused: seconds until the cost would fit (at least 1).
    pub retry_in: Option<u64>,
}

impl RollingOutcome {
    /// The outcome for the counted `buckets` (after adding, when added) at `now_unix`.
    pub fn new(
        window: &RollingWindow,
        buckets: &[(u64, u64)],
        now_unix: u64,
        added: bool,
        cost: u64,
        limit: u64,
    ) -> RollingOutcome {
        let used = buckets.iter().map(|(_, c)| *c).sum();
        let restored_in = window
            .restored_at(buckets)
            .map_or(0, |at| at.saturating_sub(now_unix));
        let retry_in = (!added).then(|| {
            window
                .fits_at(buckets, cost, limit)
                .map_or(restored_in, |at| at.saturating_sub(now_unix))
                .max(1)
        });
        RollingOutcome {
            added,
            used,
            restored_in,
            retry_in,
        }
    }
}

/// Adds `cost` to bucket `b` of `buckets`.
pub(crate) fn add_to(buckets: &mut Vec<(u64, u64)>, b: u64, cost: u64) {
    match buckets.iter_mut().find(|(x, _)| *x == b) {
        Some((_, c)) => *c = c.saturating_add(cost),
        None => buckets.push((b, cost)),
    }
}

/// The counter key of a rolling quota: `quota:<scope id>:<rolling_day|rolling_month>`.
pub fn rolling_key(scope_id: &str, period: QuotaPeriod) -> String {
    let name = match period {
        QuotaPeriod::RollingMonth => "rolling_month",
        _ => "rolling_day",
    };
    format!("quota:{scope_id}:{name}")
}
