//! Responses built from stored entries: `Age`, `X-Cache`, and the client's own conditional
//! requests answered with 304 (RFC 9110 §13).

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{
    AGE, CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, HeaderName, HeaderValue,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, VARY,
};
use http::{HeaderMap, Response, StatusCode};

use crate::Entry;
use crate::directives::parse_http_date;

/// The `X-Cache` response header.
pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// How a response relates to the cache (the value of `X-Cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served from a fresh entry.
    Hit,
    /// Nothing stored: fetched from the upstream.
    Miss,
    /// Served from a stale entry (stale-while-revalidate, stale-if-error).
    Stale,
    /// Not cacheable (method, authenticated request, backend unavailable): passed through.
    Bypass,
    /// The stored entry was stale: fetched again in full.
    Expired,
    /// The stored entry was stale: the upstream confirmed it (304) and it was served.
    Revalidated,
}

impl Outcome {
    /// All outcomes, in counter order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Hit,
        Outcome::Miss,
        Outcome::Stale,
        Outcome::Bypass,
        Outcome::Expired,
        Outcome::Revalidated,
    ];

    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "HIT",
            Outcome::Miss => "MISS",
            Outcome::Stale => "STALE",
            Outcome::Bypass => "BYPASS",
            Outcome::Expired => "EXPIRED",
            Outcome::Revalidated => "REVALIDATED",
        }
    }

    /// The `result` metric label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Stale => "stale",
            Outcome::Bypass => "bypass",
            Outcome::Expired => "expired",
            Outcome::Revalidated => "revalidated",
        }
    }

    /// The header value as a `HeaderValue`.
    pub fn header(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}

/// The response to a request (with `request` headers) answered from `entry`; `head` leaves the
/// body out (its `Content-Length` stays).
pub fn from_entry(
    entry: &Entry,
    outcome: Outcome,
    request: &HeaderMap,
    head: bool,
    now: SystemTime,
) -> Response<Bytes> {
    let age = HeaderValue::from(entry.age(now).as_secs());
    let mut response = if not_modified(entry, request) {
        let mut r = Response::new(Bytes::new());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        for name in [
            CACHE_CONTROL,
            CONTENT_LOCATION,
            DATE,
            ETAG,
            EXPIRES,
            LAST_MODIFIED,
            VARY,
        ] {
            for value in entry.headers.get_all(&name) {
                r.headers_mut().append(name.clone(), value.clone());
            }
        }
        r
    } else {
        let mut r = Response::new(if head {
            Bytes::new()
        } else {
            entry.body.clone()
        });
        *r.status_mut() = entry.status;
        *r.headers_mut() = entry.headers.clone();
        r
    };
    response.headers_mut().insert(AGE, age);
    response.headers_mut().insert(&X_CACHE, outcome.header());
    response
}

/// Whether the client's conditional headers match `entry` (only 200 responses are answered 304).
fn not_modified(entry: &Entry, request: &HeaderMap) -> bool {
    if entry.status != StatusCode::OK {
        return false;
    }
    if request.contains_key(IF_NONE_MATCH) {
        let Some(etag) = entry.headers.get(ETAG).and_then(|e| e.to_str().ok()) else {
            return false;
        };
        let etag = weak(etag);
        return request
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| tag == "*" || weak(tag) == etag);
    }
    let since = request
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    let modified = entry
        .headers
        .get(LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    matches!((since, modified), (Some(since), Some(modified)) if modified <= since)
}

/// The opaque tag of an entity tag, for weak comparison.
fn weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests;
