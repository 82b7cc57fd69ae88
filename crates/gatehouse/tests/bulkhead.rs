//! Bulkheads end to end: with the upstream holding every request, requests beyond
//! `max_concurrent` + `max_queue` get 503 at once, queued ones run as slots free up, and the
//! upstream never sees more than `max_concurrent` at a time (it counts its own peak). Per cluster
//! and per route; the slot is held until the response body ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::gateway::{TestGateway, config, get, within};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// An upstream that holds each request for `hold` and records its peak concurrency.
struct Holding {
    addr: std::net::SocketAddr,
    current: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    hits: Arc<AtomicUsize>,
}

async fn spawn_holding(hold: Duration) -> Holding {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let current = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let hits = Arc::new(AtomicUsize::new(0));
    let (c, p, h) = (current.clone(), peak.clone(), hits.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (c, p, h) = (c.clone(), p.clone(), h.clone());
            let service = hyper::service::service_fn(move |_req| {
                let (c, p, h) = (c.clone(), p.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let now = c.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(hold).await;
                    c.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        "held",
                    ))))
                }
            });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Holding {
        addr,
        current,
        peak,
        hits,
    }
}

async fn start(up: &Holding, upstream_extra: &str, route_extra: &str) -> TestGateway {
    let routes = format!(
        "routes:\n  - name: all\n    match: {{ path: {{ prefix: / }} }}\n    upstream: backend\n{route_extra}\n"
    );
    TestGateway::start(&config(&[up.addr], upstream_extra, &routes)).await
}

/// `GET /metrics` on the admin listener.
async fn metrics(gw: &TestGateway) -> String {
    let admin = gw.admin.expect("admin listener");
    let r = get(&format!("http://{admin}/metrics"), &[]).await;
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Sends `n` concurrent GETs; returns each status with its latency.
async fn burst(url: &str, n: usize) -> Vec<(u16, Duration)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move {
                let started = Instant::now();
                let r = get(&url, &[]).await;
                (r.status.as_u16(), started.elapsed())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(within("burst request", t).await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_bulkhead_refuses_overflow_at_once_and_caps_the_upstream() {
    let up = spawn_holding(Duration::from_millis(600)).await;
    let gw = start(
        &up,
        "    bulkhead: { max_concurrent: 2, max_queue: 2, queue_timeout: 5s }",
        "",
    )
    .await;
    let results = burst(&gw.url("/x"), 8).await;
    let ok: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    // 2 run, 2 wait for a slot and then run, 4 are refused.
    assert_eq!((ok.len(), refused.len()), (4, 4), "{results:?}");
    // Refused at once: before any admitted request came back (each held 600 ms upstream).
    let slowest_refusal = refused.iter().map(|r| r.1).max();
    let fastest_ok = ok.iter().map(|r| r.1).min();
    assert!(slowest_refusal < fastest_ok, "{results:?}");
    assert_eq!(up.peak.load(Ordering::SeqCst), 2);
    assert_eq!(up.hits.load(Ordering::SeqCst), 4);
    assert_eq!(up.current.load(Ordering::SeqCst), 0);
    let m = metrics(&gw).await;
    assert!(
        m.contains("gatehouse_bulkhead_rejections_total{scope=\"cluster\",name=\"backend\"} 4"),
        "{m}"
    );
    assert!(
        m.contains("gatehouse_bulkhead_in_use{scope=\"cluster\",name=\"backend\"} 0"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_bulkhead_queue_times_out_with_problem_json() {
    let up = spawn_holding(Duration::from_millis(800)).await;
    let gw = start(
        &up,
        "",
        "    bulkhead: { max_concurrent: 1, max_queue: 5, queue_timeout: 100ms }",
    )
    .await;
    let url = gw.url("/x");
    let first = tokio::spawn({
        let url = url.clone();
        async move { get(&url, &[]).await.status }
    });
    // Let the first request take the slot.
    while up.hits.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let r = get(&url, &[]).await;
    let waited = started.elapsed();
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(r.header("retry-after").is_some());
    // Refused after its queue timeout, not after the slot came free (800 ms): a 503, not a 200.
    assert!(waited >= Duration::from_millis(100), "waited {waited:?}");
    assert_eq!(within("first request", first).await.expect("task"), 200);
    assert_eq!(up.peak.load(Ordering::SeqCst), 1);
    // The slot is free again once the first response ended.
    assert_eq!(get(&url, &[]).await.status, 200);
    let m = metrics(&gw).await;
    assert!(
        m.contains("gatehouse_bulkhead_rejections_total{scope=\"route\",name=\"all\"} 1"),
        "{m}"
    );
}
