//! Fuzz the HTTP/1 request head path: raw bytes parsed by `httparse` (hyper's parser) into
//! `http::request::Parts` as hyper would, then what the gateway checks before routing.
//!
//! - `check_transfer_encoding` accepts exactly the heads whose `Transfer-Encoding` lines list one
//!   `chunked` coding in all (or none at all);
//! - the framing scanner reports a conflict for every head hyper parses with both
//!   `Content-Length` and `Transfer-Encoding` (hyper drops `Content-Length`, so the scanner is the
//!   only place that sees the pair);
//! - an accepted authority is plain ASCII (no `%`, `,`, `@`, whitespace or control characters),
//!   is the one `Host` header when there is one, and agrees with an absolute-form target;
//! - `normalize_path` output is a fixed point.
#![no_main]

use gatehouse_core::authority::{is_valid, request_authority};
use gatehouse_core::forwarding::check_transfer_encoding;
use gatehouse_core::framing::{Scanner, Status};
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Request, Uri, Version};
use libfuzzer_sys::fuzz_target;

/// hyper's default header limit.
const MAX_HEADERS: usize = 100;

/// The head as hyper's server would build it, or `None` where hyper answers 400 itself.
fn parts(req: &httparse::Request<'_, '_>) -> Option<Parts> {
    let method = Method::from_bytes(req.method?.as_bytes()).ok()?;
    let path = req.path?;
    if path.is_empty() {
        return None;
    }
    let uri: Uri = path.parse().ok()?;
    let version = match req.version? {
        0 => Version::HTTP_10,
        1 => Version::HTTP_11,
        _ => return None,
    };
    let mut builder = Request::builder().method(method).uri(uri).version(version);
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(h.value).ok()?;
        builder = builder.header(name, value);
    }
    Some(builder.body(()).ok()?.into_parts().0)
}

/// Plain ASCII: no `%`, `,`, `@`, whitespace or control characters.
fn plain(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b.is_ascii_graphic() && !matches!(b, b'%' | b',' | b'@'))
}

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = req.parse(data) else {
        return;
    };
    let Some(parts) = parts(&req) else {
        return;
    };

    // Framing: the scanner sees what hyper hides.
    if parts.headers.contains_key(CONTENT_LENGTH) && parts.headers.contains_key(TRANSFER_ENCODING) {
        assert_eq!(
            Scanner::new().feed(&data[..len]),
            Status::Conflict,
            "hyper parses a head with Content-Length and Transfer-Encoding the scanner misses"
        );
    }

    // Transfer-Encoding: none at all, or exactly one `chunked` over every line.
    let codings: Vec<&[u8]> = parts
        .headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .collect();
    let one_chunked =
        codings.is_empty() || (codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked"));
    assert_eq!(
        check_transfer_encoding(&parts.headers).is_ok(),
        one_chunked,
        "Transfer-Encoding codings {codings:?}"
    );

    // Every host value the checker accepts is plain.
    for host in parts.headers.get_all(HOST) {
        if is_valid(host.as_bytes()) {
            assert!(plain(host.as_bytes()), "accepted {host:?}");
        }
    }

    // The one authority.
    let hosts: Vec<&HeaderValue> = parts.headers.get_all(HOST).iter().collect();
    let target = parts.uri.authority().map(|a| a.as_str());
    match request_authority(&parts) {
        Ok(Some(authority)) => {
            assert!(plain(authority.as_bytes()), "accepted {authority:?}");
            assert!(hosts.len() <= 1, "accepted {} Host headers", hosts.len());
            if let Some(host) = hosts.first() {
                assert_eq!(*host, authority);
            } else {
                assert_eq!(parts.version, Version::HTTP_10, "no Host accepted");
            }
            if let Some(target) = target {
                assert!(
                    target.as_bytes().eq_ignore_ascii_case(authority.as_bytes()),
                    "target {target:?} routed as {authority:?}"
                );
            }
        }
        Ok(None) => {
            assert_eq!(parts.version, Version::HTTP_10);
            assert!(hosts.is_empty() && target.is_none());
        }
        Err(_) => {}
    }

    // The path routes match against: normalizing it again changes nothing.
    if let Ok(path) = gatehouse_router::normalize_path(parts.uri.path()) {
        let again = gatehouse_router::normalize_path(&path).expect("normalized path is valid");
        assert_eq!(again, path, "not a fixed point");
    }
});
