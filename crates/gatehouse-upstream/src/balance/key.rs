//! The consistent-hash key of a request.

use std::net::IpAddr;

use gatehouse_config::model::HashKey;
use http::request::Parts;

use super::hash64;

/// Hashes the request's key for consistent hashing.
///
/// - `header:NAME`: the first value of the header, as raw bytes;
/// - `cookie:NAME`: the value of the first cookie named `NAME` in any `Cookie` header;
/// - `query:NAME`: the raw (not percent-decoded) value of the first query parameter `NAME`
///   (`?NAME` without `=` counts as an empty value);
/// - `client_ip`: the client address (IPv4-mapped IPv6 addresses hash as IPv4).
///
/// When the header, cookie or parameter is absent, the client address is used instead.
pub fn request_key(key: &HashKey, req: &Parts, client_ip: IpAddr) -> u64 {
    let found = match key {
        HashKey::Header(name) => req.headers.get(name).map(|v| hash64(v.as_bytes(), 0)),
        HashKey::Cookie(name) => cookie(req, name).map(|v| hash64(v, 0)),
        HashKey::Query(name) => query(req, name).map(|v| hash64(v.as_bytes(), 0)),
        HashKey::ClientIp => None,
    };
    found.unwrap_or_else(|| ip_key(client_ip))
}

fn ip_key(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => hash64(&v4.octets(), 0),
        IpAddr::V6(v6) => hash64(&v6.octets(), 0),
    }
}

fn cookie<'a>(req: &'a Parts, name: &str) -> Option<&'a [u8]> {
    req.headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (k, v) = (&pair[..eq], &pair[eq + 1..]);
            (k.trim_ascii() == name.as_bytes()).then(|| v.trim_ascii())
        })
}

fn query<'a>(req: &'a Parts, name: &str) -> Option<&'a str> {
    req.uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}
