//! `Cache-Control` directives and HTTP dates (RFC 9111 §5.2, RFC 9110 §5.6.7), parsed leniently:
//! an unknown or malformed directive is ignored, a malformed delta makes its directive absent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{CACHE_CONTROL, PRAGMA};

/// The directives the cache acts on, from every `Cache-Control` field line of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `max-age=N`.
    pub max_age: Option<Duration>,
    /// `s-maxage=N` (shared caches only; wins over `max-age`).
    pub s_maxage: Option<Duration>,
    /// `no-store`.
    pub no_store: bool,
    /// `no-cache` (response: store but revalidate every time; request: ask for a trip upstream).
    pub no_cache: bool,
    /// `private` (never stored by a shared cache).
    pub private: bool,
    /// `public`.
    pub public: bool,
    /// `must-revalidate` or `proxy-revalidate`: never served stale.
    pub must_revalidate: bool,
    /// `stale-while-revalidate=N` (RFC 5861).
    pub stale_while_revalidate: Option<Duration>,
    /// `stale-if-error=N` (RFC 5861).
    pub stale_if_error: Option<Duration>,
}

impl CacheControl {
    /// Parses every `Cache-Control` line of `headers`; a request's `Pragma: no-cache` counts as
    /// `no-cache` when `pragma` is set.
    pub fn parse(headers: &HeaderMap, pragma: bool) -> CacheControl {
        let mut cc = CacheControl::default();
        for value in headers.get_all(CACHE_CONTROL) {
            let Ok(text) = value.to_str() else { continue };
            for item in text.split(',') {
                let (name, arg) = match item.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (item.trim(), None),
                };
                let seconds = || arg.and_then(delta_seconds);
                match name.to_ascii_lowercase().as_str() {
                    "max-age" => cc.max_age = seconds(),
                    "s-maxage" => cc.s_maxage = seconds(),
                    "no-store" => cc.no_store = true,
                    // `no-cache="field"` limits the directive to fields; treated as plain no-cache.
                    "no-cache" => cc.no_cache = true,
                    "private" => cc.private = true,
                    "public" => cc.public = true,
                    "must-revalidate" | "proxy-revalidate" => cc.must_revalidate = true,
                    "stale-while-revalidate" => cc.stale_while_revalidate = seconds(),
                    "stale-if-error" => cc.stale_if_error = seconds(),
                    _ => {}
                }
            }
        }
        if pragma
            && headers
                .get_all(PRAGMA)
                .iter()
                .any(|v| v.as_bytes().eq_ignore_ascii_case(b"no-cache"))
        {
            cc.no_cache = true;
        }
        cc
    }
}

/// `delta-seconds`: digits only; values past 2^31 saturate there (RFC 9111 §1.2.2).
fn delta_seconds(text: &str) -> Option<Duration> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = text.parse::<u64>().unwrap_or(u64::MAX).min(1 << 31);
    Some(Duration::from_secs(secs))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only format senders may generate.
/// Anything else (including the obsolete formats) is `None`, which for `Expires` means "already
/// expired" (RFC 9111 §5.3).
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    let b = text.trim().as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = std::str::from_utf8(&b[r]).ok()?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let day = num(5..7)?;
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u64 + 1;
    let year = num(12..16)?;
    let (hour, min, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || year < 1970 || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + min * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
