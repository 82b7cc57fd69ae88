//! Proxy header semantics: hop-by-hop removal, `X-Forwarded-*`, `Via`, client IP.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Request-ID`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Hop-by-hop headers of RFC 9110 §7.6.1 (plus the non-standard `Keep-Alive`/`Proxy-Connection`
/// and the `HTTP2-Settings` of an `h2c` upgrade, removed even when `Connection` does not name it).
fn hop_by_hop() -> [&'static HeaderName; 10] {
    [
        &HTTP2_SETTINGS,
        &header::CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::TRANSFER_ENCODING,
        &header::TE,
        &header::TRAILER,
        &header::UPGRADE,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
    ]
}

/// Removes hop-by-hop headers, including every header named in `Connection`.
///
/// `keep_te_trailers` keeps `TE: trailers` (needed end to end by gRPC); `keep_upgrade` keeps
/// `Connection: upgrade` + `Upgrade` for a WebSocket handshake.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_te_trailers: bool, keep_upgrade: bool) {
    let mut named: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',') {
            let token = token.trim();
            if keep_upgrade && token.eq_ignore_ascii_case("upgrade") {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    for name in named {
        headers.remove(name);
    }
    let te_trailers = keep_te_trailers
        && headers
            .get_all(header::TE)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    for name in hop_by_hop() {
        if keep_upgrade && (name == header::CONNECTION || name == header::UPGRADE) {
            continue;
        }
        headers.remove(name);
    }
    if keep_upgrade && headers.contains_key(header::UPGRADE) {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Whether `ip` is one of the trusted proxies.
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client's IP: the peer, unless the peer is a trusted proxy, in which case the right-most
/// address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for hop in value.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                return client;
            };
            client = canonical(ip);
            if !is_trusted(client, trusted) {
                return client;
            }
        }
    }
    client
}

/// Sets `X-Forwarded-For/Proto/Host` for the upstream request.
///
/// From a trusted proxy the client-sent values are kept and the peer is appended to
/// `X-Forwarded-For`; from anyone else client-sent values are replaced.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    trusted_peer: bool,
    scheme: &'static str,
    host: Option<&HeaderValue>,
) {
    let peer = canonical(peer);
    let peer_text = peer.to_string();
    if trusted_peer {
        let mut chain = String::new();
        for v in headers.get_all(&X_FORWARDED_FOR) {
            if let Ok(v) = v.to_str() {
                if !chain.is_empty() {
                    chain.push_str(", ");
                }
                chain.push_str(v);
            }
        }
        if !chain.is_empty() {
            chain.push_str(", ");
        }
        chain.push_str(&peer_text);
        if let Ok(v) = HeaderValue::from_str(&chain) {
            headers.insert(&X_FORWARDED_FOR, v);
        }
    } else if let Ok(v) = HeaderValue::from_str(&peer_text) {
        headers.insert(&X_FORWARDED_FOR, v);
        headers.remove(&X_FORWARDED_PROTO);
        headers.remove(&X_FORWARDED_HOST);
        headers.remove(header::FORWARDED);
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(scheme));
    }
    if !headers.contains_key(&X_FORWARDED_HOST)
        && let Some(host) = host
    {
        headers.insert(&X_FORWARDED_HOST, host.clone());
    }
}

/// The `Via` values of one pseudonym for each protocol version, built once per configuration.
#[derive(Debug, Clone)]
pub struct ViaValues {
    http10: HeaderValue,
    http11: HeaderValue,
    http2: HeaderValue,
}

impl ViaValues {
    /// `1.0 NAME`, `1.1 NAME`, `2 NAME`; a pseudonym that is not a valid header value falls back to
    /// `gatehouse`.
    pub fn new(pseudonym: &str) -> ViaValues {
        let make = |proto: &str| {
            HeaderValue::from_str(&format!("{proto} {pseudonym}"))
                .unwrap_or_else(|_| HeaderValue::from_static("1.1 gatehouse"))
        };
        ViaValues {
            http10: make("1.0"),
            http11: make("1.1"),
            http2: make("2"),
        }
    }

    /// Appends our `Via` entry for a message of `version` to any existing one.
    pub fn append(&self, headers: &mut HeaderMap, version: http::Version) {
        let value = match version {
            http::Version::HTTP_10 => &self.http10,
            http::Version::HTTP_2 => &self.http2,
            _ => &self.http11,
        };
        headers.append(header::VIA, value.clone());
    }
}

/// Checks a request's `Transfer-Encoding`: absent, or exactly one `chunked` coding over all its
/// lines (RFC 9112 §6.1: chunked is applied at most once and last). Anything else — `chunked,
/// chunked`, two `Transfer-Encoding: chunked` lines, `gzip, chunked`, an empty or unknown coding —
/// is refused: the gateway would decode one framing and forward another.
pub fn check_transfer_encoding(headers: &HeaderMap) -> Result<(), &'static str> {
    match gatehouse_upstream::chunked_codings(headers) {
        None => Err("unsupported Transfer-Encoding"),
        Some(n) if n > 1 => Err("chunked applied more than once"),
        Some(_) => Ok(()),
    }
}

/// Whether a request is a WebSocket opening handshake (RFC 6455 §4.1): a GET whose `Upgrade` is
/// exactly `websocket` (one header, one token) and whose `Connection` lists `upgrade`. Anything
/// else that asks to upgrade — `h2c`, `websocket, h2c`, two `Upgrade` headers — is not, and is
/// never tunnelled.
pub fn is_websocket_handshake(method: &http::Method, headers: &HeaderMap) -> bool {
    method == http::Method::GET
        && upgrade_is_websocket(headers)
        && headers.get_all(header::CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
        })
}

/// Whether the message has exactly one `Upgrade` header, naming only `websocket`.
pub fn upgrade_is_websocket(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::UPGRADE).iter();
    let first = values.next();
    values.next().is_none()
        && first.is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket"))
}

#[cfg(test)]
mod tests;
