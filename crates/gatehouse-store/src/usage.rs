//! Usage metering for billing: requests per consumer, route, status class and UTC hour.
//!
//! The hot path records into a sharded in-process aggregate ([`UsageMeter::record`]); a flush
//! moves the counts to a [`UsageStore`]: [`MemoryUsage`] (this process only) or [`RedisUsage`]
//! (shared by every gateway instance; layout in [`redis`]).

mod memory;
mod meter;
pub mod redis;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Error;
use crate::quota::{civil_from_days, days_from_civil};

pub use self::memory::{MEMORY_MAX_ROWS, MemoryUsage};
pub use self::meter::{MAX_BACKLOG_ROWS, OTHER, Series, UsageMeter};
pub use self::redis::RedisUsage;

/// Seconds per hour.
pub const HOUR: u64 = 3600;

/// What one row counts: an hour (hours since the Unix epoch, UTC), a consumer, a route and a
/// status class (1 for 1xx … 5 for 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    /// Hours since 1970-01-01T00:00:00Z.
    pub hour: u64,
    /// Consumer id.
    pub consumer: Arc<str>,
    /// Route name.
    pub route: Arc<str>,
    /// Status class, 1–5.
    pub class: u8,
}

/// Request counts not yet written to the store.
pub type Deltas = HashMap<RowKey, u64>;

/// One exported row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsageRow {
    /// Hours since the Unix epoch (see [`hour_label`]).
    pub hour: u64,
    /// Consumer id.
    pub consumer: String,
    /// Route name.
    pub route: String,
    /// Status class, 1–5 (see [`class_label`]).
    pub class: u8,
    /// Requests counted.
    pub requests: u64,
}

/// Which rows to read: hours `from_hour..to_hour` (end exclusive), optionally one consumer and/or
/// one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// First hour (hours since the Unix epoch).
    pub from_hour: u64,
    /// End hour, exclusive.
    pub to_hour: u64,
    /// Only this consumer.
    pub consumer: Option<String>,
    /// Only this route.
    pub route: Option<String>,
}

impl UsageQuery {
    /// Whether `row` passes the consumer and route filters (hours are not checked).
    pub fn matches(&self, consumer: &str, route: &str) -> bool {
        self.consumer.as_deref().is_none_or(|c| c == consumer)
            && self.route.as_deref().is_none_or(|r| r == route)
    }
}

/// Where hourly usage rows are kept.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Adds `deltas` to the stored rows, removing from `deltas` what was written; on error what
    /// is left in `deltas` was not written.
    async fn write(&self, deltas: &mut Deltas) -> Result<(), Error>;

    /// The stored rows of `query`, sorted by hour, consumer, route and class.
    async fn read(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, Error>;
}

/// The status class of a status code (1–5), `None` outside 100–599.
pub fn status_class(status: u16) -> Option<u8> {
    matches!(status, 100..=599).then(|| (status / 100) as u8)
}

/// `2xx` for class 2.
pub fn class_label(class: u8) -> &'static str {
    match class {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// The class of a label (`2xx` → 2).
pub fn parse_class(label: &str) -> Option<u8> {
    (1..=5).find(|c| class_label(*c) == label)
}

/// `2026-11-22T10:00:00Z` for the hour starting then.
pub fn hour_label(hour: u64) -> String {
    let (y, m, d, h) = civil_hour(hour);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:00:00Z")
}

/// `2026112210`: the hour in Redis keys.
pub fn hour_key(hour: u64) -> String {
    let (y, m, d, h) = civil_hour(hour);
    format!("{y:04}{m:02}{d:02}{h:02}")
}

fn civil_hour(hour: u64) -> (u64, u64, u64, u64) {
    let (y, m, d) = civil_from_days(hour / 24);
    (y, m, d, hour % 24)
}

/// An hour written `2026-11-22T10`, optionally followed by `:00`, `:00:00` and `Z` → hours since
/// the Unix epoch. `None` for anything else (other minutes, invalid dates, years before 1970).
pub fn parse_hour(text: &str) -> Option<u64> {
    let rest = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = rest.split_once('T')?;
    let time = time
        .strip_suffix(":00:00")
        .or_else(|| time.strip_suffix(":00"))
        .unwrap_or(time);
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let y = number(parts.next()?, 4)?;
    let m = number(parts.next()?, 2)?;
    let d = number(parts.next()?, 2)?;
    let h = number(time, 2)?;
    if parts.next().is_some() || y < 1970 || !(1..=12).contains(&m) || d == 0 || h > 23 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Rejects 2026-02-30 and the like: the day must map back to itself.
    (civil_from_days(days) == (y, m, d)).then_some(days * 24 + h)
}
