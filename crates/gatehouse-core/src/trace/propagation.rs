//! Reading and writing trace context headers: W3C `traceparent`/`tracestate` (read and written),
//! B3 single (`b3`) and multi (`X-B3-*`) headers (read; rewritten as `b3` when they came in).

use gatehouse_plugins::TraceContext;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// `traceparent`.
pub(crate) static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// `tracestate`.
pub(crate) static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// B3 single header.
pub(crate) static B3: HeaderName = HeaderName::from_static("b3");
/// B3 multi headers, all removed before forwarding.
const B3_MULTI: [&str; 5] = [
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// Most `tracestate` members (W3C limit).
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// A valid incoming trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Incoming {
    /// Trace id, not all zero.
    pub(crate) trace_id: [u8; 16],
    /// The caller's span, not all zero.
    pub(crate) span_id: [u8; 8],
    /// The caller's sampling decision; `None` = deferred (B3 without a decision).
    pub(crate) sampled: Option<bool>,
    /// Validated `tracestate` (W3C only).
    pub(crate) tracestate: Option<String>,
    /// Whether it came as B3 (then the upstream also gets a `b3` header).
    pub(crate) b3: bool,
}

impl Incoming {
    /// A context read from B3 headers.
    fn b3(trace_id: [u8; 16], span_id: [u8; 8], sampled: Option<bool>) -> Incoming {
        Incoming {
            trace_id,
            span_id,
            sampled,
            tracestate: None,
            b3: true,
        }
    }
}

/// The trace context of `headers`: a valid `traceparent` first, else B3 single, else B3 multi.
pub(crate) fn extract(headers: &HeaderMap) -> Option<Incoming> {
    if let Some(mut found) = single(headers, &TRACEPARENT).and_then(parse_traceparent) {
        found.tracestate = tracestate(headers);
        return Some(found);
    }
    single(headers, &B3)
        .and_then(parse_b3_single)
        .or_else(|| parse_b3_multi(headers))
}

/// The value of `name` when it occurs exactly once and is ASCII.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    first.to_str().ok().map(str::trim)
}

/// `version-traceid-parentid-flags` per W3C Trace Context level 1: lower-case hex; version `ff`
/// invalid; version `00` exactly 55 characters; a higher version may append `-…` fields, which
/// are ignored.
pub(crate) fn parse_traceparent(value: &str) -> Option<Incoming> {
    let b = value.as_bytes();
    if b.len() < 55 || !value.is_ascii() {
        return None;
    }
    let version = hex_bytes::<1>(&value[0..2])?[0];
    if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let trace_id = hex_bytes::<16>(&value[3..35]).filter(|t| *t != [0; 16])?;
    let span_id = hex_bytes::<8>(&value[36..52]).filter(|s| *s != [0; 8])?;
    let flags = hex_bytes::<1>(&value[53..55])?[0];
    Some(Incoming {
        trace_id,
        span_id,
        sampled: Some(flags & 1 == 1),
        tracestate: None,
        b3: false,
    })
}

/// All `tracestate` headers joined, when every member is valid and there are at most 32;
/// otherwise `None` (dropped, as the spec allows).
pub(crate) fn tracestate(headers: &HeaderMap) -> Option<String> {
    let mut members = Vec::new();
    for value in headers.get_all(&TRACESTATE) {
        let text = value.to_str().ok()?;
        for member in text.split(',').map(|m| m.trim_matches([' ', '\t'])) {
            if member.is_empty() {
                continue;
            }
            let (key, val) = member.split_once('=')?;
            if !valid_key(key) || !valid_value(val) {
                return None;
            }
            if members
                .iter()
                .any(|m: &&str| m.split('=').next() == Some(key))
            {
                return None;
            }
            members.push(member);
        }
    }
    if members.is_empty() || members.len() > MAX_TRACESTATE_MEMBERS {
        return None;
    }
    Some(members.join(","))
}

fn valid_key(key: &str) -> bool {
    let part = |s: &str, max: usize, first_digit: bool| {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && (b[0].is_ascii_lowercase() || (first_digit && b[0].is_ascii_digit()))
            && b.iter().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.split_once('@') {
        Some((tenant, system)) => part(tenant, 241, true) && part(system, 14, false),
        None => part(key, 256, false),
    }
}

fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[b.len() - 1] != b' '
        && b.iter()
            .all(|c| (0x20..=0x7e).contains(c) && *c != b',' && *c != b'=')
}

/// `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]`; a bare `0`/`1`/`d` carries no ids.
pub(crate) fn parse_b3_single(value: &str) -> Option<Incoming> {
    let mut parts = value.split('-');
    let trace_id = b3_trace_id(parts.next()?)?;
    let span_id = hex_bytes::<8>(parts.next()?).filter(|s| *s != [0; 8])?;
    let sampled = match parts.next() {
        None => None,
        Some("1" | "d") => Some(true),
        Some("0") => Some(false),
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        hex_bytes::<8>(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Incoming::b3(trace_id, span_id, sampled))
}

/// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` (`1`/`0`/`true`/`false`), `X-B3-Flags: 1`.
fn parse_b3_multi(headers: &HeaderMap) -> Option<Incoming> {
    let trace_id = b3_trace_id(single(headers, &HeaderName::from_static(B3_MULTI[0]))?)?;
    let span_id = hex_bytes::<8>(single(headers, &HeaderName::from_static(B3_MULTI[1]))?)
        .filter(|s| *s != [0; 8])?;
    let debug = single(headers, &HeaderName::from_static(B3_MULTI[4])) == Some("1");
    let sampled = match single(headers, &HeaderName::from_static(B3_MULTI[3])) {
        _ if debug => Some(true),
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    };
    Some(Incoming::b3(trace_id, span_id, sampled))
}

/// A B3 trace id: 32 hex digits, or 16 (left-padded with zeros); not all zero.
fn b3_trace_id(text: &str) -> Option<[u8; 16]> {
    let id = match text.len() {
        32 => hex_bytes::<16>(text)?,
        16 => {
            let low = hex_bytes::<8>(text)?;
            let mut id = [0u8; 16];
            id[8..].copy_from_slice(&low);
            id
        }
        _ => return None,
    };
    (id != [0; 16]).then_some(id)
}

/// Exactly `2 * N` lower-case hex digits.
fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    let b = text.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Replaces every trace header of an upstream request with ours: `traceparent` naming `span_id`
/// (the attempt span) as parent, the incoming `tracestate` unchanged, and `b3` when the client
/// spoke B3. Client-sent trace headers that were invalid are thereby removed.
pub(crate) fn inject(
    headers: &mut HeaderMap,
    trace_id: &[u8; 16],
    span_id: &[u8; 8],
    sampled: bool,
    tracestate: Option<&str>,
    b3: bool,
) {
    headers.remove(&TRACEPARENT);
    headers.remove(&TRACESTATE);
    headers.remove(&B3);
    for name in B3_MULTI {
        headers.remove(name);
    }
    let flag = if sampled { "01" } else { "00" };
    let (t, s) = (TraceContext::hex(trace_id), TraceContext::hex(span_id));
    if let Ok(v) = HeaderValue::from_str(&format!("00-{t}-{s}-{flag}")) {
        headers.insert(&TRACEPARENT, v);
    }
    if let Some(v) = tracestate.and_then(|s| HeaderValue::from_str(s).ok()) {
        headers.insert(&TRACESTATE, v);
    }
    if b3 && let Ok(v) = HeaderValue::from_str(&format!("{t}-{s}-{}", &flag[1..])) {
        headers.insert(&B3, v);
    }
}
