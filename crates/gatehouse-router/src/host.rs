//! Host extraction and wildcard suffixes.

use std::borrow::Cow;

/// The host of an `:authority` or `Host` header value, as [`RouteRequest::host`](crate::RouteRequest)
/// expects it: lower-cased, without port, user-info or a trailing dot.
///
/// IPv6 literals keep their brackets: `[::1]:8080` → `[::1]`. Borrows when nothing changes.
///
/// ```
/// use gatehouse_router::host_of;
/// assert_eq!(host_of("API.Example.com:8443"), "api.example.com");
/// assert_eq!(host_of("[::1]:80"), "[::1]");
/// ```
pub fn host_of(authority: &str) -> Cow<'_, str> {
    let authority = authority.trim_matches(|c: char| c.is_ascii_whitespace());
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if authority.starts_with('[') {
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        match authority.split_once(':') {
            Some((host, port)) if !port.contains(':') => host,
            _ => authority,
        }
    };
    let host = match host.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => host,
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// The suffixes of `host` a wildcard pattern can match, longest first:
/// `a.b.example.com` → `.b.example.com`, `.example.com`, `.com`.
pub(crate) fn wildcard_suffixes(host: &str) -> impl Iterator<Item = &str> {
    host.match_indices('.')
        .filter(|&(i, _)| i > 0)
        .map(|(i, _)| &host[i..])
}
