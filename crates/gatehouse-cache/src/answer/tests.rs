use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::*;

fn entry() -> Entry {
    let mut headers = HeaderMap::new();
    headers.insert("etag", "\"v1\"".parse().unwrap());
    headers.insert(
        "last-modified",
        "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
    );
    headers.insert("content-type", "text/plain".parse().unwrap());
    Entry {
        status: StatusCode::OK,
        headers,
        body: Bytes::from_static(b"body"),
        stored_at: SystemTime::now() - Duration::from_secs(5),
        initial_age: Duration::from_secs(2),
        fresh_for: Duration::from_secs(60),
        stale_while_revalidate: Duration::ZERO,
        stale_if_error: Duration::ZERO,
    }
}

fn req(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(*n, v.parse().unwrap());
    }
    m
}

#[test]
fn hit_has_age_and_x_cache() {
    let r = from_entry(
        &entry(),
        Outcome::Hit,
        &HeaderMap::new(),
        false,
        SystemTime::now(),
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["age"], "7");
    assert_eq!(r.headers()["x-cache"], "HIT");
    assert_eq!(r.body(), "body");
    let head = from_entry(
        &entry(),
        Outcome::Hit,
        &HeaderMap::new(),
        true,
        SystemTime::now(),
    );
    assert!(head.body().is_empty());
}

#[test]
fn client_conditionals_answered_304() {
    let now = SystemTime::now();
    for r in [
        req(&[("if-none-match", "\"x\", W/\"v1\"")]),
        req(&[("if-none-match", "*")]),
        req(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
    ] {
        let resp = from_entry(&entry(), Outcome::Hit, &r, false, now);
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{r:?}");
        assert!(resp.body().is_empty());
        assert_eq!(resp.headers()["etag"], "\"v1\"");
        assert!(!resp.headers().contains_key("content-type"));
    }
    for r in [
        req(&[("if-none-match", "\"x\"")]),
        // If-None-Match takes precedence over If-Modified-Since.
        req(&[
            ("if-none-match", "\"x\""),
            ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]),
        req(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:36 GMT")]),
    ] {
        let resp = from_entry(&entry(), Outcome::Hit, &r, false, now);
        assert_eq!(resp.status(), StatusCode::OK, "{r:?}");
    }
}
