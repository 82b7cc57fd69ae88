//! Retry decisions: which failures and requests may be retried, backoff with full jitter,
//! `Retry-After`, and the per-cluster counters of retries and timeouts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gatehouse_config::model::{Backoff, RetryOn, RetryPolicy};
use http::{HeaderMap, Method};

use crate::Error;

#[cfg(test)]
mod tests;

/// The request header that makes any method retryable.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Why a try failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made (refused, unreachable, connect timeout, TLS handshake).
    ConnectError,
    /// The connection failed after connecting, before a response head.
    Reset,
    /// No response head within the try's timeout.
    Timeout,
    /// A response head with this status.
    Status(u16),
}

impl Failure {
    /// Classifies a send error; `None` for errors that are never retried (the request body).
    pub fn of_error(e: &Error) -> Option<Failure> {
        match e {
            Error::Connect { .. } => Some(Failure::ConnectError),
            Error::Timeout { .. } => Some(Failure::Timeout),
            Error::Other { .. } if e.is_request_body() => None,
            Error::Other { .. } => Some(Failure::Reset),
            Error::Build { .. } => None,
        }
    }

    /// Whether `policy` retries this failure.
    pub fn is_retried_by(self, policy: &RetryPolicy) -> bool {
        policy.on.iter().any(|on| {
            matches!(
                (on, self),
                (RetryOn::ConnectError, Failure::ConnectError)
                    | (RetryOn::Reset, Failure::Reset)
                    | (RetryOn::Timeout, Failure::Timeout)
            ) || matches!((on, self), (RetryOn::Status(a), Failure::Status(b)) if *a == b)
        })
    }

    /// The `reason` label of `gatehouse_upstream_retries_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::ConnectError => "connect_error",
            Failure::Reset => "reset",
            Failure::Timeout => "timeout",
            Failure::Status(_) => "status",
        }
    }
}

/// Whether a request may be retried at all under `policy`: its method is listed, or it carries
/// an `Idempotency-Key`.
pub fn is_retryable_request(policy: &RetryPolicy, method: &Method, headers: &HeaderMap) -> bool {
    policy.methods.contains(method) || headers.contains_key(IDEMPOTENCY_KEY)
}

/// The upper bound of the wait before retry `retry` (1-based): `min(max, base × 2^(retry-1))`.
pub fn backoff_cap(backoff: &Backoff, retry: u32) -> Duration {
    let factor = 1u32 << retry.saturating_sub(1).min(20);
    backoff.base.saturating_mul(factor).min(backoff.max)
}

/// The wait before retry `retry` (1-based): uniformly random in `[0, backoff_cap]` (full jitter).
pub fn backoff_delay(backoff: &Backoff, retry: u32) -> Duration {
    backoff_cap(backoff, retry).mul_f64(rand::random::<f64>())
}

/// An upstream `Retry-After`: delta-seconds, or an IMF-fixdate HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`; a date in the past means no wait). `None` when absent or
/// in another form.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = http_date(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let fields: Vec<&str> = text.split(' ').collect();
    let [_weekday, day, month, year, time, "GMT"] = fields.as_slice() else {
        return None;
    };
    if day.len() != 2 || year.len() != 4 {
        return None;
    }
    let month = MONTHS.iter().position(|m| m == month)? as u64 + 1;
    let day: u64 = day.parse().ok()?;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || year < 1970 || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), with years starting in March.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// What kind of timeout fired (the `kind` label of `gatehouse_upstream_timeouts_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// TCP + TLS connect.
    Connect,
    /// The per-try time to the response head.
    PerTry,
    /// The overall bound across tries.
    Total,
    /// The wait for the next chunk of a response body.
    Body,
}

/// Per-cluster counters of retries and timeouts (atomics; read by the metrics collector).
#[derive(Debug, Default)]
pub struct CallStats {
    retries: [AtomicU64; 4],
    budget_exhausted: AtomicU64,
    timeouts: [AtomicU64; 4],
}

impl CallStats {
    /// The `reason` labels, in the order of [`CallStats::retries`].
    pub const REASONS: [&'static str; 4] = ["connect_error", "reset", "timeout", "status"];
    /// The `kind` labels, in the order of [`CallStats::timeouts`].
    pub const TIMEOUT_KINDS: [&'static str; 4] = ["connect", "per_try", "total", "body"];

    /// Counts one retry for `reason`.
    pub fn retry(&self, reason: Failure) {
        let i = match reason {
            Failure::ConnectError => 0,
            Failure::Reset => 1,
            Failure::Timeout => 2,
            Failure::Status(_) => 3,
        };
        self.retries[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a retry refused by the budget.
    pub fn budget_exhausted(&self) {
        self.budget_exhausted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a timeout.
    pub fn timeout(&self, kind: TimeoutKind) {
        let i = match kind {
            TimeoutKind::Connect => 0,
            TimeoutKind::PerTry => 1,
            TimeoutKind::Total => 2,
            TimeoutKind::Body => 3,
        };
        self.timeouts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Retries so far, per reason in the order of [`CallStats::REASONS`].
    pub fn retries(&self) -> [u64; 4] {
        self.retries.each_ref().map(|c| c.load(Ordering::Relaxed))
    }

    /// Retries refused by the budget so far.
    pub fn budget_exhausted_count(&self) -> u64 {
        self.budget_exhausted.load(Ordering::Relaxed)
    }

    /// Timeouts so far, per kind in the order of [`CallStats::TIMEOUT_KINDS`].
    pub fn timeouts(&self) -> [u64; 4] {
        self.timeouts.each_ref().map(|c| c.load(Ordering::Relaxed))
    }
}
