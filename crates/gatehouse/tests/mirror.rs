//! End-to-end request mirroring (`routes[].mirror`): what the shadow cluster receives, sampling,
//! fire-and-forget behaviour with a hanging shadow, bodies over `max_body`, and config errors.
//! In-process gateway; primary = the echo upstream, shadow = a recording upstream in this file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_testkit::gateway::{TestGateway, config, get, http_client, send, within};
use gatehouse_testkit::spawn_echo;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;

#[path = "support/validate.rs"]
mod validate;

/// One request as the shadow saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: BTreeMap<String, Vec<String>>,
    body: Bytes,
}

/// A recording upstream: every complete request is sent on `seen`; with `hang`, it then never
/// answers.
struct Shadow {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    answered: Arc<AtomicUsize>,
}

async fn spawn_shadow(hang: bool) -> Shadow {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let answered = Arc::new(AtomicUsize::new(0));
    let answered_count = answered.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let answered = answered_count.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                    let tx = tx.clone();
                    let answered = answered.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
                        for (name, value) in &parts.headers {
                            headers
                                .entry(name.as_str().to_owned())
                                .or_default()
                                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
                        }
                        let _ = tx.send(Seen {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            query: parts.uri.query().map(str::to_owned),
                            headers,
                            body,
                        });
                        if hang {
                            std::future::pending::<()>().await;
                        }
                        answered.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from_static(b"shadow"),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Shadow {
        addr,
        seen,
        answered,
    }
}

impl Shadow {
    /// The next request the shadow received (bounded).
    async fn next(&mut self) -> Seen {
        within("the shadow to receive a copy", self.seen.recv())
            .await
            .expect("shadow server running")
    }

    /// Requests received so far that were not taken with `next`.
    fn pending(&mut self) -> usize {
        let mut n = 0;
        while self.seen.try_recv().is_ok() {
            n += 1;
        }
        n
    }
}

/// Gateway config: primary `backend` = `primary`, upstream `shadow`, and `routes`.
fn yaml(primary: SocketAddr, shadow: SocketAddr, routes: &str) -> String {
    config(
        &[primary],
        &format!("  shadow:\n    targets: [\"{shadow}\"]\n"),
        routes,
    )
}

fn route(name: &str, prefix: &str, mirror: &str) -> String {
    format!(
        "  - name: {name}\n    match: {{ path: {{ prefix: {prefix} }} }}\n    upstream: backend\n    mirror: {mirror}\n"
    )
}

async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> gatehouse_testkit::gateway::Reply {
    let mut req = http::Request::post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body)).unwrap();
    within(url, send(&http_client(), req)).await.unwrap()
}

/// The echo's headers as name → values.
fn echo_headers(echo: &Value) -> BTreeMap<String, Vec<String>> {
    let map = echo["headers"].as_object().expect("headers");
    map.iter()
        .map(|(k, v)| {
            let values = v.as_array().expect("values").iter();
            (
                k.clone(),
                values.map(|s| s.as_str().unwrap().to_owned()).collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_receives_what_the_primary_receives() {
    let echo = spawn_echo().await;
    let mut shadow = spawn_shadow(false).await;
    let routes = format!("routes:\n{}", route("m", "/m", "{ upstream: shadow }"));
    let gw = TestGateway::start(&yaml(echo.addr, shadow.addr, &routes)).await;
    let gw_host = gw.addr.to_string();

    let r = post(
        &gw.url("/m/orders?b=2&a=%20x"),
        &[
            ("x-custom", "one"),
            ("authorization", "Bearer t0k3n"),
            ("content-type", "text/plain"),
        ],
        Bytes::from_static(b"the payload"),
    )
    .await;
    assert_eq!(r.status, 200);
    let primary = r.json();
    let copy = shadow.next().await;
    assert_eq!(copy.method, "POST");
    assert_eq!(copy.path, "/m/orders");
    assert_eq!(copy.path, primary["path"]);
    assert_eq!(copy.query.as_deref(), Some("b=2&a=%20x"));
    assert_eq!(copy.body, "the payload");
    assert_eq!(primary["body"], "the payload");
    let mut expected = echo_headers(&primary);
    // Trace context is per upstream call (added when a try is sent), not part of the copy.
    expected.remove("traceparent");
    expected.remove("tracestate");
    assert_eq!(expected.get("host"), Some(&vec![gw_host.clone()]));
    let (name, port) = gw_host.rsplit_once(':').unwrap();
    expected.insert("host".into(), vec![format!("{name}-shadow:{port}")]);
    assert_eq!(
        copy.headers, expected,
        "headers as sent to the primary, Host with -shadow"
    );

    // A GET without a body is mirrored too.
    let r = get(&gw.url("/m/list?page=3"), &[("x-custom", "two")]).await;
    assert_eq!(r.status, 200);
    let copy = shadow.next().await;
    assert_eq!(
        (copy.method.as_str(), copy.path.as_str()),
        ("GET", "/m/list")
    );
    assert_eq!(copy.query.as_deref(), Some("page=3"));
    assert_eq!(copy.headers["x-custom"], vec!["two".to_owned()]);
    assert!(copy.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentage_zero_mirrors_nothing() {
    let echo = spawn_echo().await;
    let mut shadow = spawn_shadow(false).await;
    let routes = format!(
        "routes:\n{}{}",
        route("never", "/never", "{ upstream: shadow, percentage: 0 }"),
        route("always", "/always", "{ upstream: shadow, percentage: 100 }"),
    );
    let gw = TestGateway::start(&yaml(echo.addr, shadow.addr, &routes)).await;
    for _ in 0..20 {
        assert_eq!(get(&gw.url("/never"), &[]).await.status, 200);
    }
    // A copy from the other route arrives; by then any copy from `/never` would have too (same
    // path through the gateway, sent earlier).
    assert_eq!(get(&gw.url("/always"), &[]).await.status, 200);
    let mut seen = vec![shadow.next().await.path];
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(s) = shadow.seen.try_recv() {
        seen.push(s.path);
    }
    assert!(seen.iter().all(|p| p == "/always"), "{seen:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(echo.hits(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_shadow_never_delays_the_client() {
    let echo = spawn_echo().await;
    let mut shadow = spawn_shadow(true).await;
    let routes = format!(
        "routes:\n{}",
        route("m", "/m", "{ upstream: shadow, timeout: 30s }")
    );
    let gw = TestGateway::start(&yaml(echo.addr, shadow.addr, &routes)).await;
    let started = Instant::now();
    for i in 0..3 {
        let r = post(
            &gw.url(&format!("/m/{i}")),
            &[],
            Bytes::from(vec![b'x'; 1000]),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["body_len"], 1000);
        // The copy reached the shadow, which is now hanging on it.
        assert_eq!(shadow.next().await.path, format!("/m/{i}"));
    }
    assert_eq!(
        shadow.answered.load(Ordering::SeqCst),
        0,
        "the shadow never answers"
    );
    // Three exchanges done while three mirror requests hang (their timeout is 30 s).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(shadow.pending(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_body_is_not_mirrored_but_reaches_the_primary() {
    let echo = spawn_echo().await;
    let mut shadow = spawn_shadow(false).await;
    let routes = format!(
        "routes:\n{}",
        route("m", "/m", "{ upstream: shadow, max_body: 1KiB }")
    );
    let gw = TestGateway::start(&yaml(echo.addr, shadow.addr, &routes)).await;
    let big = Bytes::from(vec![b'y'; 64 * 1024]);
    let r = post(&gw.url("/m/big"), &[], big.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body_len"], 64 * 1024);
    // Exactly 1 KiB is still mirrored.
    let r = post(&gw.url("/m/small"), &[], Bytes::from(vec![b'z'; 1024])).await;
    assert_eq!(r.status, 200);
    let copy = shadow.next().await;
    assert_eq!(copy.path, "/m/small", "the big body was not mirrored");
    assert_eq!(copy.body.len(), 1024);
    // Both outcomes are counted on the admin listener's /metrics.
    let admin = gw.admin.expect("admin listener");
    let family = "gatehouse_mirror_requests_total";
    let sent = format!("{family}{{route=\"m\",result=\"sent\"}} 1\n");
    let dropped = format!("{family}{{route=\"m\",result=\"dropped\"}} 1\n");
    let failed = format!("{family}{{route=\"m\",result=\"failed\"}} 0\n");
    within("mirror counters", async {
        loop {
            let text = get(&format!("http://{admin}/metrics"), &[]).await.body;
            let text = String::from_utf8_lossy(&text).into_owned();
            if text.contains(&sent) {
                assert!(text.contains(&dropped), "{text}");
                assert!(text.contains(&failed), "{text}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[test]
fn an_unknown_mirror_upstream_is_refused_with_its_location() {
    let routes = format!("routes:\n{}", route("m", "/m", "{ upstream: shadw }"));
    let unused = "127.0.0.1:1".parse().unwrap();
    let stderr = validate::refused(&yaml(unused, unused, &routes));
    let line = validate::line_with(&stderr, "routes[0].mirror.upstream");
    assert!(line.contains("gatehouse.yaml:19:25"), "{line}");
    assert!(line.contains("unknown upstream `shadw`"), "{line}");
    assert!(line.contains("did you mean `shadow`"), "{line}");
}
