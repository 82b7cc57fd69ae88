//! The `cache` plugin end to end, against an origin that picks its caching headers from the query
//! (`cache/origin.rs`) and counts requests: what is stored and for how long (RFC 9111 subset and
//! the TTL overrides), validators both ways, stale-while-revalidate and stale-if-error, request
//! coalescing (1,000 concurrent misses → 1 origin request), poisoning and cross-consumer attempts,
//! partial bodies, the admin purge, the metrics, and the Redis backend.

#[path = "cache/freshness.rs"]
mod freshness;
#[path = "cache/origin.rs"]
mod origin;
#[path = "cache/security.rs"]
mod security;
#[path = "cache/shared.rs"]
mod shared;

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, TestGateway, http_client, send, within};
use http_body_util::Full;

use origin::Origin;

/// A gateway (admin token `secret`) with one route `api` for every path, to `origin`, with the
/// `cache` plugin settings `cache` (a YAML flow map) and `extra` top-level YAML.
async fn gateway(origin: &Origin, cache: &str, extra: &str) -> TestGateway {
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n  token: secret\nserver:\n  watch: false\nupstreams:\n  origin:\n    targets: [\"{}\"]\n{extra}\nroutes:\n  - name: api\n    match: {{ path: {{ prefix: / }} }}\n    upstream: origin\n    plugins:\n      - cache: {cache}\n",
        origin.addr
    );
    TestGateway::start(&yaml).await
}

/// `method` `path` through `gw` with `headers`.
async fn call(gw: &TestGateway, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = http::Request::builder().method(method).uri(gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::new())).expect("request");
    within(path, send(&http_client(), req))
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

async fn get(gw: &TestGateway, path: &str) -> Reply {
    call(gw, "GET", path, &[]).await
}

/// `X-Cache` of a reply.
fn x_cache(r: &Reply) -> &str {
    r.header("x-cache").unwrap_or("-")
}

/// The origin's request number that produced a reply's body.
fn n(r: &Reply) -> u64 {
    r.json()["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("no n in {:?}", r.body))
}

/// Waits until `cond` holds (bounded).
async fn until(what: &str, cond: impl Fn() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Lets a just-completed response's background write land.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// Sleeps past a 1-second freshness lifetime.
async fn past_one_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
}

#[tokio::test]
async fn get_is_cached_head_shares_it_post_bypasses() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let path = "/a?cc=max-age%3D60";
    let first = get(&gw, path).await;
    assert_eq!((first.status.as_u16(), x_cache(&first)), (200, "MISS"));
    settle().await;
    let second = get(&gw, path).await;
    assert_eq!(x_cache(&second), "HIT");
    assert_eq!(second.body, first.body, "the stored body");
    let age: u64 = second
        .header("age")
        .expect("Age")
        .parse()
        .expect("Age number");
    assert!(age <= 60);
    let head = call(&gw, "HEAD", path, &[]).await;
    assert_eq!((head.status.as_u16(), x_cache(&head)), (200, "HIT"));
    assert!(head.body.is_empty());
    assert_eq!(o.hits(), 1, "one origin request for GET, GET, HEAD");
    for _ in 0..2 {
        let post = call(&gw, "POST", path, &[]).await;
        assert_eq!(x_cache(&post), "BYPASS");
    }
    assert_eq!(o.hits(), 3);
}

#[tokio::test]
async fn only_listed_statuses_are_stored() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    for (status, stored) in [(404, true), (301, true), (500, false), (201, false)] {
        let path = format!("/s?status={status}&cc=max-age%3D60");
        let before = o.hits();
        get(&gw, &path).await;
        settle().await;
        let again = get(&gw, &path).await;
        assert_eq!(again.status.as_u16(), status);
        assert_eq!(x_cache(&again) == "HIT", stored, "{status}");
        assert_eq!(o.hits() - before, if stored { 1 } else { 2 }, "{status}");
    }
    let gw = gateway(&o, "{ statuses: [201] }", "").await;
    let path = "/configured?status=201&cc=max-age%3D60";
    get(&gw, path).await;
    settle().await;
    assert_eq!(x_cache(&get(&gw, path).await), "HIT");
}

#[tokio::test]
async fn partial_or_failed_bodies_are_never_stored() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let path = "/broken?break=1&cc=max-age%3D60";
    for _ in 0..2 {
        let req = http::Request::get(gw.url(path))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let r = within(path, send(&http_client(), req)).await;
        assert!(r.is_err(), "the client sees the body fail too");
        settle().await;
    }
    assert_eq!(o.hits(), 2, "nothing was stored from the broken body");
}

#[tokio::test]
async fn bodies_over_max_body_stream_through_unstored() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{ max_body: 100 }", "").await;
    for _ in 0..2 {
        let r = get(&gw, "/big?size=1000&cc=max-age%3D60").await;
        assert_eq!(r.body.len(), 1000);
        settle().await;
    }
    assert_eq!(o.hits(), 2);
    get(&gw, "/small?size=50&cc=max-age%3D60").await;
    settle().await;
    assert_eq!(
        x_cache(&get(&gw, "/small?size=50&cc=max-age%3D60").await),
        "HIT"
    );
}
