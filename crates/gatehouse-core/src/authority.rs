//! The request's one authority: the host that routing, authorization, the forwarded `Host` and
//! `X-Forwarded-Host` all use, checked once before anything reads it.
//!
//! - HTTP/2 and HTTP/3: `:authority`; a `host` header that disagrees with it is refused (RFC 9113
//!   §8.3.1 lets a server treat that as malformed); a request with neither is refused.
//! - HTTP/1.1: exactly one `Host` header (RFC 9112 §3.2: missing or repeated → 400). An absolute-form
//!   target (`GET http://a/ HTTP/1.1`) must name the same authority as `Host`.
//! - HTTP/1.0: `Host` is optional (a request without one is routed as host-less), never repeated.
//!
//! Every value must be a plain `host[:port]`: a DNS name (letters, digits, `-`, `.`, `_`, `~`), an
//! IPv4 address or a bracketed IPv6 literal, and a port of 1–5 digits up to 65535. Percent-encoding,
//! user-info, commas, spaces and control characters are refused, so no two components can read one
//! host two ways (`a%2eb`, `a, b`, `a\0b`, `user@a`).

use http::header::{self, HeaderValue};
use http::{Version, request::Parts};

/// Why a request's authority was refused (the problem+json `detail`).
pub type Refusal = &'static str;

/// The authority of `parts`, checked as described in the module docs: the `Host` header (or, with
/// none, the target's authority) when every check passes, `Ok(None)` only for an HTTP/1.0 request
/// without `Host`, and the refusal's reason otherwise.
pub fn request_authority(parts: &Parts) -> Result<Option<HeaderValue>, Refusal> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err("more than one Host header");
    }
    if let Some(host) = host
        && !is_valid(host.as_bytes())
    {
        return Err("invalid Host header");
    }
    let target = parts.uri.authority().map(|a| a.as_str());
    if let Some(target) = target
        && !is_valid(target.as_bytes())
    {
        return Err("invalid request authority");
    }
    let chosen = match (target, host) {
        (Some(target), Some(host)) => {
            if !target.as_bytes().eq_ignore_ascii_case(host.as_bytes()) {
                return Err(if parts.version >= Version::HTTP_2 {
                    "Host header disagrees with :authority"
                } else {
                    "Host header disagrees with the request target"
                });
            }
            host.clone()
        }
        (Some(target), None) => {
            if parts.version == Version::HTTP_11 {
                return Err("missing Host header");
            }
            HeaderValue::from_str(target).map_err(|_| "invalid request authority")?
        }
        (None, Some(host)) => host.clone(),
        (None, None) if parts.version <= Version::HTTP_10 => return Ok(None),
        (None, None) if parts.version == Version::HTTP_11 => return Err("missing Host header"),
        (None, None) => return Err("missing :authority"),
    };
    Ok(Some(chosen))
}

/// Whether `value` is a plain `host[:port]` (see the module docs): a DNS name of at most 253
/// bytes, an IPv4 address or a bracketed IPv6 literal, then an optional port of 1–5 digits up to
/// 65535.
pub fn is_valid(value: &[u8]) -> bool {
    let (host, port) = match value.first() {
        Some(b'[') => match value.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &value[1..end];
                let ok = !literal.is_empty()
                    && literal
                        .iter()
                        .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
                if !ok {
                    return false;
                }
                match &value[end + 1..] {
                    [] => (&value[..=end], None),
                    [b':', port @ ..] => (&value[..=end], Some(port)),
                    _ => return false,
                }
            }
            None => return false,
        },
        _ => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], Some(&value[colon + 1..])),
            None => (value, None),
        },
    };
    let host_ok = host.starts_with(b"[")
        || (!host.is_empty()
            && host.len() <= 253
            && host
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')));
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.iter().all(u8::is_ascii_digit)
            && std::str::from_utf8(p)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
                .is_some_and(|n| n <= 65_535)
    });
    host_ok && port_ok
}

#[cfg(test)]
mod tests;
