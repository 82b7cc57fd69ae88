//! The admin purge, the metrics, and the Redis backend (shared by two gateways; Redis down →
//! bypass).

use std::time::{Duration, Instant};

use gatehouse_testkit::gateway::{Reply, get as fetch};
use gatehouse_testkit::redis::spawn_redis;

use super::{call, gateway, get, origin, settle, x_cache};

async fn admin(
    gw: &gatehouse_testkit::gateway::TestGateway,
    method: &str,
    path: &str,
    token: bool,
) -> Reply {
    let addr = gw.admin.expect("admin listener");
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if token {
        req = req.header("authorization", "Bearer secret");
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    gatehouse_testkit::gateway::within(
        path,
        gatehouse_testkit::gateway::send(&gatehouse_testkit::gateway::http_client(), req),
    )
    .await
    .expect("admin reply")
}

async fn fill(gw: &gatehouse_testkit::gateway::TestGateway, paths: &[&str]) {
    for p in paths {
        get(gw, p).await;
    }
    settle().await;
}

#[tokio::test]
async fn purge_by_prefix_and_by_key_through_the_admin_api() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    fill(&gw, &["/api/a", "/api/b?x=1", "/other", "/keyed?b=2&a=1"]).await;
    let r = admin(&gw, "DELETE", "/admin/cache?prefix=/api/", false).await;
    assert_eq!(r.status.as_u16(), 401, "the admin token is required");
    let r = admin(&gw, "DELETE", "/admin/cache?prefix=/api/", true).await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.json()["purged"], 2);
    assert_eq!(x_cache(&get(&gw, "/api/a").await), "MISS");
    assert_eq!(x_cache(&get(&gw, "/other").await), "HIT");
    // The key is a path and query; query order does not matter.
    let r = admin(
        &gw,
        "DELETE",
        "/admin/cache?key=%2Fkeyed%3Fa%3D1%26b%3D2",
        true,
    )
    .await;
    assert_eq!(r.json()["purged"], 1);
    assert_eq!(x_cache(&get(&gw, "/keyed?b=2&a=1").await), "MISS");
    for bad in [
        "/admin/cache",
        "/admin/cache?prefix=api",
        "/admin/cache?key=/a&prefix=/b",
        "/admin/cache?path=/a",
    ] {
        let r = admin(&gw, "DELETE", bad, true).await;
        assert_eq!(r.status.as_u16(), 400, "{bad}");
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn metrics_count_results_per_route() {
    let o = origin::spawn().await;
    let gw = gateway(&o, "{}", "").await;
    fill(&gw, &["/m"]).await;
    get(&gw, "/m").await;
    call(&gw, "POST", "/m", &[]).await;
    let scrape = admin(&gw, "GET", "/metrics", true).await;
    let text = String::from_utf8_lossy(&scrape.body).to_string();
    for line in [
        "gatehouse_cache_requests_total{route=\"api\",result=\"hit\"} 1",
        "gatehouse_cache_requests_total{route=\"api\",result=\"miss\"} 1",
        "gatehouse_cache_requests_total{route=\"api\",result=\"bypass\"} 1",
        "gatehouse_cache_evictions_total 0",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let value = |name: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"));
        line[name.len()..].trim().parse().expect("a number")
    };
    assert_eq!(
        value("gatehouse_cache_entries "),
        2.0,
        "one entry and its index"
    );
    assert!(value("gatehouse_cache_bytes ") > 0.0);
}

#[tokio::test]
async fn redis_backend_is_shared_purged_and_bypassed_when_down() {
    let Some(mut redis) = spawn_redis() else {
        return;
    };
    let o = origin::spawn().await;
    let settings = format!(
        "{{ backend: redis, redis: {{ url: \"{}\", prefix: \"t:\", timeout: 200ms }} }}",
        redis.url()
    );
    let one = gateway(&o, &settings, "").await;
    let two = gateway(&o, &settings, "").await;
    let path = "/r?cc=max-age%3D60";
    assert_eq!(x_cache(&get(&one, path).await), "MISS");
    settle().await;
    let hit = get(&two, path).await;
    assert_eq!(
        x_cache(&hit),
        "HIT",
        "the second gateway reads what the first stored"
    );
    assert_eq!(o.hits(), 1);
    let r = admin(&two, "DELETE", "/admin/cache?prefix=/r", true).await;
    assert_eq!(r.json()["purged"], 1);
    assert_eq!(x_cache(&get(&one, path).await), "MISS");
    redis.stop();
    let started = Instant::now();
    let down = fetch(&one.url(path), &[]).await;
    assert_eq!((down.status.as_u16(), x_cache(&down)), (200, "BYPASS"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the Redis timeout"
    );
}
