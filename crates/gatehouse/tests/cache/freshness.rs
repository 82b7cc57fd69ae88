//! Freshness: `Cache-Control` directives, `Expires`, `Vary`, `Set-Cookie`, the TTL overrides,
//! client `no-cache`, validators both ways, and the stale windows.

use std::sync::atomic::Ordering;

use super::{call, gateway, get, n, origin, past_one_second, settle, until, x_cache};

/// Two GETs of `path`; whether the second was a hit.
async fn stored(gw: &gatehouse_testkit::gateway::TestGateway, path: &str) -> bool {
    get(gw, path).await;
    settle().await;
    x_cache(&get(gw, path).await) == "HIT"
}

#[tokio::test]
async fn cache_control_directives() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    assert!(!stored(&gw, "/cc?cc=no-store").await, "no-store");
    assert!(
        !stored(&gw, "/cc?cc=private,%20max-age%3D60").await,
        "private"
    );
    assert!(
        stored(&gw, "/cc?cc=max-age%3D0,%20s-maxage%3D60").await,
        "s-maxage wins (stored)"
    );
    assert!(
        !stored(&gw, "/cc?cc=max-age%3D60,%20s-maxage%3D0").await,
        "s-maxage wins (stale)"
    );
    // max-age elapses.
    let path = "/cc?cc=max-age%3D1";
    let first = get(&gw, path).await;
    past_one_second().await;
    let later = get(&gw, path).await;
    assert_ne!(x_cache(&later), "HIT");
    assert_ne!(n(&later), n(&first));
}

#[tokio::test]
async fn no_cache_is_stored_and_revalidated_every_time() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let path = "/nc?cc=no-cache&etag=v1";
    let first = get(&gw, path).await;
    settle().await;
    for _ in 0..2 {
        let r = get(&gw, path).await;
        assert_eq!(x_cache(&r), "REVALIDATED");
        assert_eq!(n(&r), n(&first), "the stored body, confirmed by a 304");
        settle().await;
    }
    assert_eq!(o.not_modified.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn expires_and_invalid_expires() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    assert!(stored(&gw, "/e?expires=1").await, "Expires 60 s after Date");
    assert!(
        !stored(&gw, "/e?expires=bad").await,
        "an invalid Expires is already expired"
    );
}

#[tokio::test]
async fn vary_selects_a_variant_and_vary_star_is_not_stored() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let path = "/v?vary=accept-language&cc=max-age%3D60";
    let fr = call(&gw, "GET", path, &[("accept-language", "fr")]).await;
    settle().await;
    let de = call(&gw, "GET", path, &[("accept-language", "de")]).await;
    settle().await;
    assert_eq!((x_cache(&fr), x_cache(&de)), ("MISS", "MISS"));
    let fr2 = call(&gw, "GET", path, &[("accept-language", "fr")]).await;
    let de2 = call(&gw, "GET", path, &[("accept-language", "de")]).await;
    assert_eq!((x_cache(&fr2), n(&fr2)), ("HIT", n(&fr)));
    assert_eq!((x_cache(&de2), n(&de2)), ("HIT", n(&de)));
    assert!(!stored(&gw, "/v?vary=*&cc=max-age%3D60").await, "Vary: *");
}

#[tokio::test]
async fn set_cookie_responses_are_never_stored() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let r = get(&gw, "/c?cookie=1&cc=public,%20max-age%3D60").await;
    assert_eq!(r.header("set-cookie"), Some("session=abc"));
    assert!(!stored(&gw, "/c?cookie=1&cc=public,%20max-age%3D60").await);
}

#[tokio::test]
async fn ttl_overrides() {
    let o = origin::spawn().await;
    let plain = "/plain";
    assert!(
        stored(&gateway(&o, "{}", "").await, plain).await,
        "default_ttl 60s"
    );
    assert!(!stored(&gateway(&o, "{ default_ttl: 0s }", "").await, plain).await);
    let forced = gateway(&o, "{ force_ttl: 60s }", "").await;
    assert!(stored(&forced, "/f?cc=max-age%3D0").await, "force_ttl");
    let clamped = gateway(&o, "{ max_ttl: 1s }", "").await;
    let path = "/m?cc=max-age%3D600";
    assert!(stored(&clamped, path).await);
    past_one_second().await;
    assert_ne!(
        x_cache(&get(&clamped, path).await),
        "HIT",
        "max_ttl clamps max-age"
    );
}

#[tokio::test]
async fn client_no_cache_is_ignored_unless_honoured() {
    let o = origin::spawn().await;
    let path = "/n?cc=max-age%3D60";
    let gw = gateway(&o, "{}", "").await;
    get(&gw, path).await;
    settle().await;
    let r = call(
        &gw,
        "GET",
        path,
        &[("cache-control", "no-cache"), ("pragma", "no-cache")],
    )
    .await;
    assert_eq!(x_cache(&r), "HIT");
    let honouring = gateway(&o, "{ honor_client_no_cache: true }", "").await;
    get(&honouring, path).await;
    settle().await;
    let before = o.hits();
    let r = call(&honouring, "GET", path, &[("cache-control", "no-cache")]).await;
    assert_ne!(x_cache(&r), "HIT");
    assert_eq!(o.hits(), before + 1);
}

#[tokio::test]
async fn client_conditionals_are_answered_304_from_the_cache() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let path = "/cond?etag=v1&lm=1&cc=max-age%3D60";
    // A conditional miss still fetches (and stores) the full response.
    let first = call(&gw, "GET", path, &[("if-none-match", "\"v1\"")]).await;
    assert_eq!(first.status.as_u16(), 200);
    settle().await;
    let r = call(&gw, "GET", path, &[("if-none-match", "\"v1\"")]).await;
    assert_eq!((r.status.as_u16(), x_cache(&r)), (304, "HIT"));
    assert!(r.body.is_empty());
    let since = [("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")];
    assert_eq!(call(&gw, "GET", path, &since).await.status.as_u16(), 304);
    let other = call(&gw, "GET", path, &[("if-none-match", "\"v0\"")]).await;
    assert_eq!(other.status.as_u16(), 200);
    assert_eq!(o.hits(), 1);
    assert_eq!(o.not_modified.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn expired_entries_are_revalidated_with_their_validators() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    for path in ["/rv?etag=v3&cc=max-age%3D1", "/rv?lm=1&cc=max-age%3D1"] {
        let first = get(&gw, path).await;
        past_one_second().await;
        let r = get(&gw, path).await;
        assert_eq!((x_cache(&r), n(&r)), ("REVALIDATED", n(&first)), "{path}");
        settle().await;
        assert_eq!(
            x_cache(&get(&gw, path).await),
            "HIT",
            "refreshed by the 304"
        );
    }
    assert_eq!(o.not_modified.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stale_while_revalidate_serves_stale_and_refreshes_in_the_background() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let path = "/swr?cc=max-age%3D1,%20stale-while-revalidate%3D30";
    let first = get(&gw, path).await;
    past_one_second().await;
    let stale = get(&gw, path).await;
    assert_eq!((x_cache(&stale), n(&stale)), ("STALE", n(&first)));
    until("background refresh", || o.hits() == 2).await;
    settle().await;
    let fresh = get(&gw, path).await;
    assert_eq!(x_cache(&fresh), "HIT");
    assert_ne!(n(&fresh), n(&first), "the refreshed body");
}

#[tokio::test]
async fn stale_if_error_serves_stale_when_the_origin_fails() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    let with = "/sie?cc=max-age%3D1,%20stale-if-error%3D30";
    let without = "/sie?cc=max-age%3D1";
    let first = get(&gw, with).await;
    get(&gw, without).await;
    past_one_second().await;
    o.failing.store(true, Ordering::SeqCst);
    let r = get(&gw, with).await;
    assert_eq!(
        (r.status.as_u16(), x_cache(&r), n(&r)),
        (200, "STALE", n(&first))
    );
    assert_eq!(
        get(&gw, without).await.status.as_u16(),
        503,
        "no stale-if-error"
    );
    drop(o); // connection refused from now on
    let r = get(&gw, with).await;
    assert_eq!((r.status.as_u16(), x_cache(&r)), (200, "STALE"));
}
