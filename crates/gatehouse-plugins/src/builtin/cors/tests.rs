use std::time::Duration;

use gatehouse_config::model::{CorsConfig, OriginMatch};
use http::{HeaderName, Method, StatusCode};
use regex::Regex;

use super::*;
use crate::builtin::testing::{cx, req, resp, values};
use crate::{LocalResponse, RequestContext};

fn config(origins: Vec<OriginMatch>) -> CorsConfig {
    CorsConfig {
        allow_origins: origins,
        allow_methods: vec![Method::GET, Method::POST, Method::PUT],
        allow_headers: vec![],
        expose_headers: vec![],
        allow_credentials: false,
        max_age: None,
    }
}

fn exact(s: &str) -> OriginMatch {
    OriginMatch::Exact(s.to_owned())
}

fn pattern(s: &str) -> OriginMatch {
    OriginMatch::Pattern(Regex::new(s).unwrap())
}

async fn preflight(p: &Cors, headers: &[(&str, &str)]) -> (RequestContext, LocalResponse) {
    let mut cx = cx();
    let mut parts = req("OPTIONS", headers);
    match p.on_access(&mut cx, &mut parts).await.unwrap() {
        Flow::Respond(r) => (cx, r),
        Flow::Continue => panic!("a preflight is always answered"),
    }
}

/// Runs an actual request with `headers` through both hooks; returns the response head.
async fn actual(
    p: &Cors,
    headers: &[(&str, &str)],
    upstream: &[(&str, &str)],
) -> http::response::Parts {
    let mut cx = cx();
    let mut parts = req("GET", headers);
    assert!(matches!(
        p.on_access(&mut cx, &mut parts).await.unwrap(),
        Flow::Continue
    ));
    let mut head = resp(200, upstream);
    p.on_response(&mut cx, &mut head).await.unwrap();
    head
}

#[tokio::test]
async fn allowed_preflight_is_204_with_cors_headers() {
    let mut c = config(vec![exact("https://app.example.com")]);
    c.allow_headers = vec![
        HeaderName::from_static("authorization"),
        HeaderName::from_static("x-api"),
    ];
    c.allow_credentials = true;
    c.max_age = Some(Duration::from_secs(600));
    let p = Cors::new(&c).unwrap();
    let (_, r) = preflight(
        &p,
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
        ],
    )
    .await;
    let h = r.headers();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-methods"], "GET, POST, PUT");
    assert_eq!(h["access-control-allow-headers"], "authorization, x-api");
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(
        h["vary"],
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    );
}

#[tokio::test]
async fn preflight_reflects_requested_headers_when_list_is_empty() {
    let p = Cors::new(&config(vec![OriginMatch::Any])).unwrap();
    let (_, r) = preflight(
        &p,
        &[
            ("origin", "https://x.test"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type, x-trace"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        r.headers()["access-control-allow-headers"],
        "content-type, x-trace"
    );
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert!(r.headers().get("access-control-max-age").is_none());
}

#[tokio::test]
async fn refused_preflight_is_403_without_cors_headers() {
    let p = Cors::new(&config(vec![exact("https://app.example.com")])).unwrap();
    for headers in [
        &[
            ("origin", "https://evil.test"),
            ("access-control-request-method", "GET"),
        ][..],
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "DELETE"),
        ][..],
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "bad method"),
        ][..],
    ] {
        let (mut cx, r) = preflight(&p, headers).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert!(
            r.headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-"))
        );
        // The response phase leaves the answer alone.
        let (mut head, _) = r.into_parts();
        p.on_response(&mut cx, &mut head).await.unwrap();
        assert!(
            head.headers
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-"))
        );
    }
}

#[tokio::test]
async fn options_without_request_method_is_not_a_preflight() {
    let p = Cors::new(&config(vec![exact("https://a.test")])).unwrap();
    let mut cx = cx();
    let mut parts = req("OPTIONS", &[("origin", "https://a.test")]);
    assert!(matches!(
        p.on_access(&mut cx, &mut parts).await.unwrap(),
        Flow::Continue
    ));
}

#[tokio::test]
async fn exact_origin_is_case_insensitive_and_reflected() {
    let p = Cors::new(&config(vec![exact("https://App.Example.com")])).unwrap();
    let head = actual(&p, &[("origin", "HTTPS://app.example.COM")], &[]).await;
    assert_eq!(
        values(&head.headers, "access-control-allow-origin"),
        ["HTTPS://app.example.COM"]
    );
    assert_eq!(values(&head.headers, "vary"), ["Origin"]);
    let head = actual(&p, &[("origin", "https://app.example.com:8443")], &[]).await;
    assert!(head.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn pattern_origins_are_anchored() {
    let p = Cors::new(&config(vec![pattern(r"https://[a-z0-9-]+\.example\.com")])).unwrap();
    let ok = HeaderValue::from_static("https://tenant-1.example.com");
    assert!(p.origin_allowed(&ok));
    for bad in [
        "https://tenant-1.example.com.evil.test",
        "evil://https://a.example.com",
        "https://example.com",
    ] {
        assert!(!p.origin_allowed(&HeaderValue::from_static(bad)), "{bad}");
    }
    let head = actual(&p, &[("origin", "https://tenant-1.example.com")], &[]).await;
    assert_eq!(
        values(&head.headers, "access-control-allow-origin"),
        ["https://tenant-1.example.com"]
    );
}

#[tokio::test]
async fn actual_request_gets_credentials_and_expose_headers() {
    let mut c = config(vec![exact("https://a.test")]);
    c.allow_credentials = true;
    c.expose_headers = vec![
        HeaderName::from_static("x-total"),
        HeaderName::from_static("etag"),
    ];
    let p = Cors::new(&c).unwrap();
    let head = actual(
        &p,
        &[("origin", "https://a.test")],
        &[("vary", "Accept-Encoding")],
    )
    .await;
    assert_eq!(
        values(&head.headers, "access-control-allow-origin"),
        ["https://a.test"]
    );
    assert_eq!(
        values(&head.headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert_eq!(
        values(&head.headers, "access-control-expose-headers"),
        ["x-total, etag"]
    );
    assert_eq!(values(&head.headers, "vary"), ["Accept-Encoding", "Origin"]);
}

#[tokio::test]
async fn credentials_are_never_sent_with_a_star() {
    // The config loader refuses this combination; the plugin reflects the origin anyway.
    let mut c = config(vec![OriginMatch::Any]);
    c.allow_credentials = true;
    let p = Cors::new(&c).unwrap();
    let head = actual(&p, &[("origin", "https://any.test")], &[]).await;
    assert_eq!(
        values(&head.headers, "access-control-allow-origin"),
        ["https://any.test"]
    );
    assert_eq!(
        values(&head.headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert_eq!(values(&head.headers, "vary"), ["Origin"]);
    let (_, r) = preflight(
        &p,
        &[
            ("origin", "https://any.test"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://any.test"
    );
}

#[tokio::test]
async fn star_without_credentials_needs_no_vary() {
    let p = Cors::new(&config(vec![OriginMatch::Any, exact("https://a.test")])).unwrap();
    let head = actual(&p, &[("origin", "https://a.test")], &[]).await;
    assert_eq!(values(&head.headers, "access-control-allow-origin"), ["*"]);
    assert!(
        head.headers
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert!(head.headers.get("vary").is_none());
}

#[tokio::test]
async fn request_without_origin_passes_with_vary_only() {
    let p = Cors::new(&config(vec![exact("https://a.test")])).unwrap();
    let head = actual(&p, &[], &[("content-type", "text/plain")]).await;
    assert_eq!(values(&head.headers, "vary"), ["Origin"]);
    assert!(
        head.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
    assert_eq!(values(&head.headers, "content-type"), ["text/plain"]);
}

#[tokio::test]
async fn disallowed_origin_gets_no_cors_headers_and_upstream_ones_are_dropped() {
    let p = Cors::new(&config(vec![exact("https://a.test")])).unwrap();
    let head = actual(
        &p,
        &[("origin", "https://evil.test")],
        &[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
        ],
    )
    .await;
    assert!(
        head.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
    assert_eq!(values(&head.headers, "vary"), ["Origin"]);
}

#[tokio::test]
async fn vary_is_not_duplicated() {
    let p = Cors::new(&config(vec![exact("https://a.test")])).unwrap();
    for existing in ["origin", "Accept, Origin", "*"] {
        let head = actual(&p, &[("origin", "https://a.test")], &[("vary", existing)]).await;
        assert_eq!(values(&head.headers, "vary"), [existing]);
    }
}

#[tokio::test]
async fn response_short_circuited_before_cors_still_varies() {
    // e.g. ip_restriction refused the request before cors' on_access ran.
    let p = Cors::new(&config(vec![exact("https://a.test")])).unwrap();
    let mut cx = cx();
    let mut head = resp(403, &[]);
    p.on_response(&mut cx, &mut head).await.unwrap();
    assert_eq!(values(&head.headers, "vary"), ["Origin"]);
    assert!(head.headers.get("access-control-allow-origin").is_none());
}
