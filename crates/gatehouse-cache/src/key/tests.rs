use http::{HeaderMap, HeaderName, Method};

use super::*;

fn input<'a>(
    method: &'a Method,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
) -> KeyInput<'a> {
    KeyInput {
        method,
        host: Some("Example.COM"),
        path,
        query,
        headers,
        key_headers: &[],
        consumer: None,
    }
}

#[test]
fn head_shares_get_and_query_order_does_not_matter() {
    let h = HeaderMap::new();
    let get = primary(&input(&Method::GET, "/a", Some("b=2&a=1"), &h));
    let head = primary(&input(&Method::HEAD, "/a", Some("a=1&b=2&"), &h));
    assert_eq!(get, head);
    assert_eq!(
        get,
        "/a?a=1%26b=2|example.com|||"
            .replace("b=2", "b%3D2")
            .replace("a=1", "a%3D1")
    );
    let post = primary(&input(&Method::POST, "/a", Some("a=1&b=2"), &h));
    assert_ne!(get, post);
}

#[test]
fn separators_in_parts_cannot_forge_another_key() {
    let h = HeaderMap::new();
    let plain = primary(&KeyInput {
        host: Some("evil"),
        ..input(&Method::GET, "/a", None, &h)
    });
    let forged = primary(&KeyInput {
        host: Some(""),
        ..input(&Method::GET, "/a|evil", None, &h)
    });
    assert_ne!(plain, forged);
    assert!(forged.starts_with("/a%7Cevil|"));
}

#[test]
fn configured_headers_and_consumer_are_keyed_others_are_not() {
    let lang = [HeaderName::from_static("accept-language")];
    let mut a = HeaderMap::new();
    a.insert("accept-language", "fr".parse().unwrap());
    a.insert("x-forwarded-host", "evil".parse().unwrap());
    let mut b = HeaderMap::new();
    b.insert("accept-language", "de".parse().unwrap());
    let key = |h: &HeaderMap, consumer| {
        primary(&KeyInput {
            key_headers: &lang,
            consumer,
            ..input(&Method::GET, "/a", None, h)
        })
    };
    assert_ne!(key(&a, None), key(&b, None));
    assert_ne!(key(&a, Some("alice")), key(&a, Some("bob")));
    let mut a2 = a.clone();
    a2.remove("x-forwarded-host");
    assert_eq!(key(&a, None), key(&a2, None), "unkeyed headers are ignored");
}

#[test]
fn variants_and_purge_matching() {
    let h = HeaderMap::new();
    let p = primary(&input(&Method::GET, "/api/x", Some("q=1"), &h));
    let mut req = HeaderMap::new();
    req.insert("accept", "text/html".parse().unwrap());
    let v = variant(&p, &[HeaderName::from_static("accept")], &req);
    assert!(v.starts_with(&p) && v.ends_with("#accept=text/html;"));
    let exact = crate::Purge::Key(path_and_query("/api/x", Some("q=1")));
    assert!(exact.matches(&p) && exact.matches(&v));
    assert!(!crate::Purge::Key(path_and_query("/api/x", None)).matches(&p));
    assert!(crate::Purge::Prefix(prefix("/api/")).matches(&v));
    assert!(!crate::Purge::Prefix(prefix("/apx")).matches(&v));
}
