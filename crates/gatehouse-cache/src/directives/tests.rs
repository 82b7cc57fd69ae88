use std::time::{Duration, UNIX_EPOCH};

use http::HeaderMap;

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

#[test]
fn directives_from_several_lines_case_insensitive() {
    let cc = CacheControl::parse(
        &headers(&[
            ("cache-control", "Max-Age=60, s-maxage=\"120\""),
            (
                "cache-control",
                "no-cache, PRIVATE, stale-while-revalidate=5, stale-if-error=9",
            ),
        ]),
        false,
    );
    assert_eq!(cc.max_age, Some(Duration::from_secs(60)));
    assert_eq!(cc.s_maxage, Some(Duration::from_secs(120)));
    assert!(cc.no_cache && cc.private && !cc.no_store && !cc.public);
    assert_eq!(cc.stale_while_revalidate, Some(Duration::from_secs(5)));
    assert_eq!(cc.stale_if_error, Some(Duration::from_secs(9)));
}

#[test]
fn malformed_deltas_are_absent_and_huge_ones_saturate() {
    let cc = CacheControl::parse(
        &headers(&[("cache-control", "max-age=-1, s-maxage=1e3")]),
        false,
    );
    assert_eq!((cc.max_age, cc.s_maxage), (None, None));
    let cc = CacheControl::parse(
        &headers(&[("cache-control", "max-age=99999999999999999999999")]),
        false,
    );
    assert_eq!(cc.max_age, Some(Duration::from_secs(1 << 31)));
}

#[test]
fn pragma_no_cache_only_when_asked() {
    let h = headers(&[("pragma", "no-cache")]);
    assert!(CacheControl::parse(&h, true).no_cache);
    assert!(!CacheControl::parse(&h, false).no_cache);
}

#[test]
fn imf_fixdate() {
    let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
    assert_eq!(t, UNIX_EPOCH + Duration::from_secs(784_111_777));
    let t = parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").unwrap();
    assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_709_164_800));
    for bad in [
        "0",
        "",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 32 Nov 1994 08:49:37 GMT",
    ] {
        assert_eq!(parse_http_date(bad), None, "{bad}");
    }
}
