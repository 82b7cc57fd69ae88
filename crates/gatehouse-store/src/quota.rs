//! Plan quotas: long-period request counters (per UTC day or month), kept in process
//! ([`MemoryQuota`]) or in Redis ([`RedisQuota`]).
//!
//! A counter's key includes the period's start (`<scope id>:2026-11` for a month,
//! `<scope id>:2026-11-22` for a day), so a new period starts from zero; every counter expires at
//! its period's end. Calendar periods are UTC: a day ends at the next 00:00 UTC, a month on the
//! 1st of the next month at 00:00 UTC. Rolling periods (`rolling_day`, `rolling_month`) are
//! sliding windows over hourly / daily buckets ([`rolling`], [`QuotaCounter::try_add_rolling`]).

mod memory;
mod redis;
pub mod rolling;

#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use gatehouse_config::model::{QuotaPeriod, QuotaScope};

use crate::Error;

pub use self::memory::MemoryQuota;
pub use self::redis::RedisQuota;
pub use self::rolling::{RollingOutcome, RollingWindow, rolling_key};

/// Seconds per day.
const DAY: u64 = 86_400;

/// Counts requests against quotas.
#[async_trait]
pub trait QuotaCounter: Send + Sync + 'static {
    /// Adds `cost` to the counter `key`, which expires at `period_end_unix` (seconds since the
    /// Unix epoch); returns the count after adding.
    async fn add(&self, key: &str, period_end_unix: u64, cost: u64) -> Result<u64, Error>;

    /// Like [`add`](QuotaCounter::add), but only when the count after adding stays within
    /// `limit`: returns whether `cost` was added, and the count after (unchanged when not added).
    /// Refused requests therefore do not use up the quota.
    async fn try_add(
        &self,
        key: &str,
        period_end_unix: u64,
        cost: u64,
        limit: u64,
    ) -> Result<(bool, u64), Error>;

    /// The current count of `key` (0 when unknown or expired).
    async fn get(&self, key: &str) -> Result<u64, Error>;

    /// Counts `cost` against the rolling quota `key` (laid out as `window`) at `now_unix`, only
    /// when the window's count stays within `limit` ([`rolling`]); a `cost` of 0 only reads.
    /// Counters that do not support rolling quotas fail with [`Error::Unavailable`].
    async fn try_add_rolling(
        &self,
        key: &str,
        window: RollingWindow,
        now_unix: u64,
        cost: u64,
        limit: u64,
    ) -> Result<RollingOutcome, Error> {
        let _ = (key, window, now_unix, cost, limit);
        Err(Error::Unavailable(
            "this quota counter does not support rolling periods".into(),
        ))
    }
}

/// Wall-clock time in whole seconds since the Unix epoch (injectable for tests).
pub trait WallClock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A wall clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualWallClock {
    secs: std::sync::atomic::AtomicU64,
}

impl ManualWallClock {
    /// A clock at `unix` seconds.
    pub fn at(unix: u64) -> Self {
        ManualWallClock {
            secs: std::sync::atomic::AtomicU64::new(unix),
        }
    }

    /// Sets the clock to `unix` seconds.
    pub fn set(&self, unix: u64) {
        self.secs.store(unix, std::sync::atomic::Ordering::SeqCst);
    }
}

impl WallClock for ManualWallClock {
    fn now_unix(&self) -> u64 {
        self.secs.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl<C: WallClock> WallClock for std::sync::Arc<C> {
    fn now_unix(&self) -> u64 {
        (**self).now_unix()
    }
}

/// The quota period containing a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodWindow {
    /// The period's start as a label: `YYYY-MM-DD` (day) or `YYYY-MM` (month).
    pub label: String,
    /// The period's start, seconds since the Unix epoch.
    pub start_unix: u64,
    /// The period's end (exclusive), seconds since the Unix epoch.
    pub end_unix: u64,
}

/// The calendar period of `period` containing `now_unix`. `None` for rolling periods
/// (`rolling_day`, `rolling_month`), which have no fixed period ([`rolling`]).
pub fn period_window(period: QuotaPeriod, now_unix: u64) -> Option<PeriodWindow> {
    let days = now_unix / DAY;
    let (y, m, d) = civil_from_days(days);
    match period {
        QuotaPeriod::Day => Some(PeriodWindow {
            label: format!("{y:04}-{m:02}-{d:02}"),
            start_unix: days * DAY,
            end_unix: (days + 1) * DAY,
        }),
        QuotaPeriod::Month => {
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some(PeriodWindow {
                label: format!("{y:04}-{m:02}"),
                start_unix: days_from_civil(y, m, 1) * DAY,
                end_unix: days_from_civil(ny, nm, 1) * DAY,
            })
        }
        QuotaPeriod::RollingDay | QuotaPeriod::RollingMonth => None,
    }
}

/// The id a quota counts a consumer or tenant under: `consumer:<id>` or `tenant:<id>`.
pub fn scope_id(scope: QuotaScope, id: &str) -> String {
    match scope {
        QuotaScope::Consumer => format!("consumer:{id}"),
        QuotaScope::Tenant => format!("tenant:{id}"),
    }
}

/// The counter key of a quota: `quota:<scope id>:<period label>`.
pub fn quota_key(scope_id: &str, window: &PeriodWindow) -> String {
    format!("quota:{scope_id}:{}", window.label)
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian calendar.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year; eras are 400
    // years (146 097 days). 719 468 = days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, 0..=365
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// (year ≥ 1970, month 1–12, day) → days since 1970-01-01 (inverse of [`civil_from_days`]).
pub fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}
