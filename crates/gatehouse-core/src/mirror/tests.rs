use bytes::Bytes;
use gatehouse_upstream::BoxError;
use http::HeaderValue;
use http_body::Body;
use http_body_util::{BodyExt, StreamBody};
use tokio::sync::oneshot;

use super::*;

fn host(v: &str) -> String {
    shadow_host(&HeaderValue::from_str(v).unwrap())
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn shadow_host_suffixes_the_name_before_the_port() {
    assert_eq!(host("api.example.com"), "api.example.com-shadow");
    assert_eq!(host("api.example.com:8080"), "api.example.com-shadow:8080");
    assert_eq!(host("127.0.0.1:80"), "127.0.0.1-shadow:80");
    assert_eq!(host("[::1]:8443"), "[::1]-shadow:8443");
    assert_eq!(host("[::1]"), "[::1]-shadow");
    assert_eq!(host("odd:"), "odd:-shadow");
}

#[test]
fn sampling_honours_the_percentage() {
    assert!(sampled(100.0, || unreachable!("100 % needs no roll")));
    assert!(!sampled(0.0, || unreachable!("0 % needs no roll")));
    assert!(sampled(12.5, || 0.124));
    assert!(!sampled(12.5, || 0.125));
    assert!(sampled(0.5, || 0.004_9));
    assert!(!sampled(0.5, || 0.999));
}

/// A streamed body of `chunks`, then `fail` as an error if set.
fn streamed(chunks: &[&'static str], fail: bool) -> ProxyBody {
    let mut frames: Vec<Result<http_body::Frame<Bytes>, BoxError>> = chunks
        .iter()
        .map(|c| Ok(http_body::Frame::data(Bytes::from_static(c.as_bytes()))))
        .collect();
    if fail {
        frames.push(Err("client went away".into()));
    }
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

async fn drive(body: ProxyBody, max: u64) -> (Option<Bytes>, Result<Bytes, String>) {
    let (tx, rx) = oneshot::channel();
    let tee = TeeBody::new(body, max, tx);
    let primary = tee
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string());
    (rx.await.ok(), primary)
}

#[tokio::test]
async fn tee_copies_a_complete_body_and_passes_it_on_unchanged() {
    let (copy, primary) = drive(streamed(&["hello ", "mirror", "!"], false), 13).await;
    assert_eq!(primary.unwrap(), "hello mirror!");
    assert_eq!(copy.unwrap(), "hello mirror!");
}

#[tokio::test]
async fn tee_abandons_a_copy_over_the_limit_but_the_primary_gets_everything() {
    let (copy, primary) = drive(streamed(&["hello ", "mirror", "!"], false), 12).await;
    assert_eq!(primary.unwrap(), "hello mirror!");
    assert_eq!(copy, None);
}

#[tokio::test]
async fn tee_abandons_the_copy_of_a_failed_body() {
    let (copy, primary) = drive(streamed(&["part"], true), 100).await;
    assert!(primary.is_err());
    assert_eq!(copy, None);
}

#[tokio::test]
async fn tee_abandons_the_copy_of_a_body_dropped_before_its_end() {
    let (tx, rx) = oneshot::channel();
    let mut tee = TeeBody::new(streamed(&["a", "b"], false), 100, tx);
    let first = tee.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "a");
    drop(tee);
    assert!(rx.await.is_err());
}

#[tokio::test]
async fn tee_completes_when_the_last_frame_ends_the_stream() {
    // A full body says it is over right after its only frame; hyper polls no further.
    let (tx, rx) = oneshot::channel();
    let mut tee = TeeBody::new(full(Bytes::from_static(b"whole")), 100, tx);
    let frame = tee.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "whole");
    assert!(tee.is_end_stream());
    assert_eq!(rx.await.unwrap(), "whole");
}

#[test]
fn in_flight_is_bounded_and_released() {
    let counts = Arc::new(Counts::default());
    let a = counts.admit(2).unwrap();
    let _b = counts.admit(2).unwrap();
    assert!(counts.admit(2).is_none());
    assert_eq!(counts.in_flight.load(Ordering::Acquire), 2);
    drop(a);
    assert!(counts.admit(2).is_some());
}

// === counting, end to end inside the crate ===

/// A config with routes `a` (mirror to `shadow` at `shadow_addr`, `max_body: 8`,
/// `max_in_flight: in_flight`) and `b` (no mirror).
fn mirrored(shadow_addr: &str, in_flight: usize) -> gatehouse_config::Config {
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nupstreams:\n  backend:\n    targets: [\"127.0.0.1:1\"]\n  shadow:\n    targets: [\"{shadow_addr}\"]\n    timeouts: {{ connect: 2s }}\nroutes:\n  - name: a\n    match: {{ path: {{ prefix: /a }} }}\n    upstream: backend\n    mirror: {{ upstream: shadow, max_body: 8, timeout: 2s, max_in_flight: {in_flight} }}\n  - name: b\n    match: {{ path: {{ prefix: /b }} }}\n    upstream: backend\n"
    );
    gatehouse_config::load_str(&yaml, std::path::Path::new("/etc/gatehouse/test.yaml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn clusters(config: &gatehouse_config::Config) -> HashMap<String, Arc<Cluster>> {
    (config.upstreams.iter())
        .map(|u| (u.name.clone(), Cluster::new(u).unwrap()))
        .collect()
}

/// A shadow that answers every request `200` with an empty body.
async fn answering_shadow() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = stream.write_all(reply).await;
            });
        }
    });
    addr
}

fn head(path: &str) -> request::Parts {
    let req = Request::post(path)
        .header("host", "api.test")
        .body(())
        .unwrap();
    req.into_parts().0
}

/// Waits (bounded) until the mirror's in-flight count is back to zero.
async fn settled(m: &Mirror) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while m.counts.in_flight.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("mirror requests finish");
}

fn sample(text: &str, route: &str, result: &str) -> Option<u64> {
    let key = format!("gatehouse_mirror_requests_total{{route=\"{route}\",result=\"{result}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&key))?;
    line[key.len()..].parse().ok()
}

#[tokio::test]
async fn outcomes_are_counted_and_exposed_once_across_reloads() {
    let shadow = answering_shadow().await;
    let config = mirrored(&shadow.to_string(), 1);
    let registry = Registry::new();
    let mirrors = Arc::new(Mirrors::build(&config.routes, &clusters(&config), None, 1).unwrap());
    mirrors.activate(&registry);
    assert!(mirrors.route(1).is_none(), "route b has no mirror");
    let m = mirrors.route(0).unwrap();
    let ip = IpAddr::from([127, 0, 0, 1]);

    // Sent: a body within max_body, answered by the shadow.
    let body = tee(
        Some(&m),
        &head("/a"),
        ip,
        full(Bytes::from_static(b"12345678")),
    );
    assert_eq!(body.collect().await.unwrap().to_bytes(), "12345678");
    settled(&m).await;
    // Dropped: a body over max_body (the primary still gets all of it).
    let body = tee(
        Some(&m),
        &head("/a"),
        ip,
        full(Bytes::from_static(b"123456789")),
    );
    assert_eq!(body.collect().await.unwrap().to_bytes(), "123456789");
    settled(&m).await;
    // Dropped: max_in_flight (1) reached while a copy waits for its body.
    let waiting = tee(Some(&m), &head("/a"), ip, streamed(&["x"], false));
    let _passed = tee(Some(&m), &head("/a"), ip, full(Bytes::from_static(b"y")));
    drop(waiting);
    settled(&m).await;

    // Not sampled at all: an upgrade cannot be mirrored.
    let mut upgrade = head("/a");
    upgrade
        .headers
        .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    drop(tee(Some(&m), &upgrade, ip, full(Bytes::new())));
    settled(&m).await;

    let text = registry.render(gatehouse_metrics::Format::Prometheus);
    assert_eq!(sample(&text, "a", "sent"), Some(1), "{text}");
    assert_eq!(sample(&text, "a", "dropped"), Some(3), "{text}");
    assert_eq!(sample(&text, "a", "failed"), Some(0), "{text}");
    assert!(!text.contains("route=\"b\""), "{text}");

    // A reload keeps the counts; only the newest set is exposed while the old one lives on.
    let refused = mirrored("127.0.0.1:1", 1);
    let next =
        Arc::new(Mirrors::build(&refused.routes, &clusters(&refused), Some(&mirrors), 2).unwrap());
    next.activate(&registry);
    let m2 = next.route(0).unwrap();
    let body = tee(Some(&m2), &head("/a"), ip, full(Bytes::new()));
    drop(body);
    settled(&m2).await;
    let text = registry.render(gatehouse_metrics::Format::Prometheus);
    assert_eq!(text.matches("result=\"sent\"").count(), 1, "{text}");
    assert_eq!(sample(&text, "a", "sent"), Some(1), "{text}");
    assert_eq!(
        sample(&text, "a", "failed"),
        Some(1),
        "refused connection: {text}"
    );
}
