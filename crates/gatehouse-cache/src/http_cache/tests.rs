use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_config::model::CacheConfig;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::{HttpCache, Lookup, RequestFacts};
use crate::{Body, Outcome, Purge, key};

fn facts<'a>(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> RequestFacts<'a> {
    RequestFacts {
        method,
        host: Some("h"),
        path,
        query: None,
        headers,
        authenticated: false,
        consumer: None,
        route: None,
    }
}

fn upstream(
    status: u16,
    headers: &[(&'static str, &'static str)],
    body: &'static str,
) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    for (n, v) in headers {
        r.headers_mut().append(*n, v.parse().unwrap());
    }
    r
}

/// Sends `response` through a miss's fill and reads the body (which stores it), then lets the
/// background write finish.
async fn fill(
    cache: &Arc<HttpCache>,
    path: &str,
    response: Response<Body>,
) -> (StatusCode, HeaderMap, Bytes) {
    let h = HeaderMap::new();
    let Lookup::Miss(fill) = cache.lookup(&facts(&Method::GET, path, &h)).await else {
        panic!("expected a miss")
    };
    let (head, body) = fill.response(response).into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    settle(cache).await;
    (head.status, head.headers, body)
}

async fn settle(cache: &Arc<HttpCache>) {
    for _ in 0..50 {
        if cache.flights.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn hit(cache: &Arc<HttpCache>, path: &str) -> Option<Response<Bytes>> {
    let h = HeaderMap::new();
    match cache.lookup(&facts(&Method::GET, path, &h)).await {
        Lookup::Hit(r) => Some(r),
        _ => None,
    }
}

#[tokio::test]
async fn miss_then_hit_then_purge() {
    let cache = HttpCache::new(&CacheConfig::default()).unwrap();
    let (status, headers, body) = fill(
        &cache,
        "/a",
        upstream(200, &[("cache-control", "max-age=60")], "one"),
    )
    .await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"one"[..]));
    assert_eq!(headers["x-cache"], "MISS");
    let r = hit(&cache, "/a").await.expect("hit");
    assert_eq!(r.body().as_ref(), b"one");
    assert_eq!(r.headers()["x-cache"], "HIT");
    let head = cache
        .lookup(&facts(&Method::HEAD, "/a", &HeaderMap::new()))
        .await;
    assert!(
        matches!(head, Lookup::Hit(r) if r.body().is_empty()),
        "HEAD shares GET's entry"
    );
    let n = cache.purge(&Purge::Prefix(key::prefix("/"))).await.unwrap();
    assert_eq!(n, 1);
    assert!(hit(&cache, "/a").await.is_none());
    let counts = cache.metrics().counts();
    assert_eq!(counts[0].1[Outcome::Hit as usize], 2);
    assert_eq!(counts[0].1[Outcome::Miss as usize], 1);
}

#[tokio::test]
async fn uncacheable_method_and_authenticated_requests_bypass() {
    let cache = HttpCache::new(&CacheConfig::default()).unwrap();
    let h = HeaderMap::new();
    assert!(matches!(
        cache.lookup(&facts(&Method::POST, "/a", &h)).await,
        Lookup::Bypass
    ));
    let authed = RequestFacts {
        authenticated: true,
        consumer: Some("alice"),
        ..facts(&Method::GET, "/a", &h)
    };
    assert!(matches!(cache.lookup(&authed).await, Lookup::Bypass));
}

#[tokio::test]
async fn body_over_max_body_is_not_stored() {
    let cache = HttpCache::new(&CacheConfig {
        max_body: 3,
        ..CacheConfig::default()
    })
    .unwrap();
    let (_, _, body) = fill(&cache, "/big", upstream(200, &[], "four")).await;
    assert_eq!(body, "four");
    assert!(hit(&cache, "/big").await.is_none());
}

#[tokio::test]
async fn wrong_content_length_is_not_stored() {
    let cache = HttpCache::new(&CacheConfig::default()).unwrap();
    fill(
        &cache,
        "/short",
        upstream(200, &[("content-length", "10")], "four"),
    )
    .await;
    assert!(hit(&cache, "/short").await.is_none());
}

#[tokio::test]
async fn revalidation_with_304_refreshes_and_serves_the_stored_body() {
    let cache = HttpCache::new(&CacheConfig::default()).unwrap();
    fill(
        &cache,
        "/v",
        upstream(
            200,
            &[("cache-control", "no-cache"), ("etag", "\"e1\"")],
            "stored",
        ),
    )
    .await;
    let h = HeaderMap::new();
    let Lookup::Miss(fill) = cache.lookup(&facts(&Method::GET, "/v", &h)).await else {
        panic!("no-cache entries are revalidated")
    };
    let mut upstream_req = HeaderMap::new();
    upstream_req.insert("if-none-match", "\"client\"".parse().unwrap());
    fill.prepare(&mut upstream_req);
    assert_eq!(upstream_req["if-none-match"], "\"e1\"");
    let r = fill.response(upstream(304, &[("etag", "\"e1\""), ("x-new", "1")], ""));
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-cache"], "REVALIDATED");
    assert_eq!(r.headers()["x-new"], "1");
    assert_eq!(r.into_body().collect().await.unwrap().to_bytes(), "stored");
}
