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
    let secs = gatehouse_upstream::retry::http_date(text.trim())?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests;
