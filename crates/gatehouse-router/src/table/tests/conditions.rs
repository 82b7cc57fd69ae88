//! Method, header and query conditions.

use gatehouse_config::model::{HeaderMatch, QueryMatch, ValueMatch};
use http::{HeaderName, Method};
use regex::Regex;

use super::{build, get, prefix, route};
use crate::table::conditions::decode_component;

pub(super) fn header_exact(name: &'static str, value: &str) -> HeaderMatch {
    HeaderMatch {
        name: HeaderName::from_static(name),
        value: ValueMatch::Exact(value.to_owned()),
    }
}

fn query(name: &str, value: ValueMatch) -> QueryMatch {
    QueryMatch {
        name: name.to_owned(),
        value,
    }
}

#[test]
fn methods_any_of() {
    let mut r = route("r", prefix("/"));
    r.matcher.methods = vec![Method::GET, Method::HEAD];
    let table = build(&[r]);
    assert_eq!(get("/").on(&table), Some(0));
    assert_eq!(get("/").method(Method::HEAD).on(&table), Some(0));
    assert_eq!(get("/").method(Method::POST).on(&table), None);
}

#[test]
fn headers_all_must_hold() {
    let mut r = route("r", prefix("/"));
    r.matcher.headers = vec![
        header_exact("x-tenant", "acme"),
        HeaderMatch {
            name: HeaderName::from_static("x-version"),
            value: ValueMatch::Regex(Regex::new("^v[0-9]+$").unwrap()),
        },
        HeaderMatch {
            name: HeaderName::from_static("authorization"),
            value: ValueMatch::Present,
        },
    ];
    let table = build(&[r]);
    let full = || {
        get("/")
            .header("x-tenant", "acme")
            .header("x-version", "v2")
            .header("authorization", "Bearer t")
    };
    assert_eq!(full().on(&table), Some(0));
    assert_eq!(get("/").header("x-tenant", "acme").on(&table), None);
    assert_eq!(
        get("/")
            .header("x-tenant", "ACME")
            .header("x-version", "v2")
            .header("authorization", "")
            .on(&table),
        None,
        "exact values are case-sensitive"
    );
    assert_eq!(
        get("/")
            .header("x-tenant", "acme")
            .header("x-version", "v2x")
            .header("authorization", "")
            .on(&table),
        None,
        "regexes are anchored"
    );
    assert_eq!(
        full().header("x-tenant", "other").on(&table),
        Some(0),
        "any value of a repeated header may satisfy the condition"
    );
}

#[test]
fn query_conditions_decode_names_and_values() {
    let mut r = route("r", prefix("/"));
    r.matcher.query = vec![
        query("q", ValueMatch::Exact("a b/c".into())),
        query("debug", ValueMatch::Present),
        query("page", ValueMatch::Regex(Regex::new("^[0-9]+$").unwrap())),
    ];
    let table = build(&[r]);
    assert_eq!(get("/").query("q=a+b%2Fc&debug&page=2").on(&table), Some(0));
    assert_eq!(
        get("/").query("page=2&%64ebug=&q=a%20b/c").on(&table),
        Some(0)
    );
    assert_eq!(get("/").query("q=a+b%2Fc&debug&page=two").on(&table), None);
    assert_eq!(get("/").query("q=a+b%2Fc&page=2").on(&table), None);
    assert_eq!(
        get("/").query("q=x&q=a+b%2Fc&debug&page=1").on(&table),
        Some(0)
    );
    assert_eq!(get("/").on(&table), None, "no query string");
}

#[test]
fn query_component_decoding() {
    assert_eq!(decode_component("a+b"), "a b");
    assert_eq!(decode_component("a%2Bb"), "a+b");
    assert_eq!(decode_component("%zz"), "%zz");
    assert_eq!(decode_component("%ff"), "\u{fffd}");
    assert!(matches!(
        decode_component("plain"),
        std::borrow::Cow::Borrowed(_)
    ));
}
