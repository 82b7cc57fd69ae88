//! Unit tests of the upstream call's request body: buffered for replays when it fits, streamed
//! intact (frames already read put back in front) when it does not.

use bytes::Bytes;
use gatehouse_upstream::{BoxError, ProxyBody};
use http::HeaderMap;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use super::body::{Buffered, RequestBody};
use super::budget::{Held, Hold};
use crate::body::{boxed, full};

/// A streamed body of `chunks`, optionally ending with trailers, without a size hint.
fn chunked(chunks: &[&'static str], trailers: bool) -> ProxyBody {
    let mut frames: Vec<Result<Frame<Bytes>, BoxError>> = (chunks.iter())
        .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
        .collect();
    if trailers {
        let mut t = HeaderMap::new();
        t.insert("x-checksum", http::HeaderValue::from_static("abc"));
        frames.push(Ok(Frame::trailers(t)));
    }
    boxed(StreamBody::new(futures_util::stream::iter(frames)))
}

async fn read_all(body: ProxyBody) -> (Bytes, Option<HeaderMap>) {
    let collected = body.collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    (collected.to_bytes(), trailers)
}

#[tokio::test]
async fn a_body_that_fits_is_buffered_and_replayed_whole() {
    let mut body = buffer(chunked(&["ab", "cd", "ef"], false), 6, hold(1024))
        .await
        .expect("buffer");
    assert!(body.is_replayable());
    for _ in 0..3 {
        assert_eq!(read_all(body.next()).await.0, "abcdef");
    }
}

/// `body::buffer`, for a body that fits the budget.
async fn buffer(body: ProxyBody, limit: u64, hold: Hold) -> Result<RequestBody, BoxError> {
    match super::body::buffer(body, limit, hold).await? {
        Buffered::Body(body) => Ok(body),
        Buffered::OverBudget => panic!("over the memory budget"),
    }
}

/// A hold on fresh counters with both caps at `cap` bytes.
fn hold(cap: u64) -> Hold {
    let caps = gatehouse_config::model::RequestBuffers {
        total: cap,
        per_connection: cap,
    };
    Hold::new(Default::default(), Default::default(), caps)
}

#[tokio::test]
async fn a_body_beyond_the_memory_budget_is_refused_and_gives_back_its_bytes() {
    let gateway = std::sync::Arc::new(Held::default());
    let connection = std::sync::Arc::new(Held::default());
    let caps = gatehouse_config::model::RequestBuffers {
        total: 1024,
        per_connection: 3,
    };
    let hold = Hold::new(gateway.clone(), connection.clone(), caps);
    let over = super::body::buffer(chunked(&["ab", "cd", "ef"], false), 1024, hold).await;
    assert!(matches!(over, Ok(Buffered::OverBudget)));
    assert_eq!((gateway.get(), connection.get()), (0, 0));
    // One that fits holds its bytes until it is dropped.
    let hold = Hold::new(gateway.clone(), connection.clone(), caps);
    let body = buffer(chunked(&["a", "b"], false), 1024, hold)
        .await
        .expect("buffer");
    assert!(body.is_replayable());
    assert_eq!((gateway.get(), connection.get()), (2, 2));
    // Bodies over the retry buffer are streamed, whatever the budget.
    let hold = Hold::new(gateway.clone(), connection.clone(), caps);
    let mut streamed = buffer(chunked(&["0123", "4567"], false), 2, hold)
        .await
        .expect("buffer");
    assert!(!streamed.is_replayable());
    assert_eq!(read_all(streamed.next()).await.0, "01234567");
    drop(body);
    assert_eq!((gateway.get(), connection.get()), (0, 0));
}

#[tokio::test]
async fn an_empty_body_is_replayable_without_reading() {
    let body = buffer(full(Bytes::new()), 0, hold(0))
        .await
        .expect("buffer");
    assert!(matches!(body, RequestBody::Buffered { ref bytes, .. } if bytes.is_empty()));
}

#[tokio::test]
async fn a_body_over_the_limit_is_streamed_intact_once() {
    let mut body = buffer(chunked(&["ab", "cd", "ef", "gh"], false), 3, hold(1024))
        .await
        .expect("buffer");
    assert!(!body.is_replayable());
    assert_eq!(read_all(body.next()).await.0, "abcdefgh");
    // Taken: a second take is empty (the caller never retries a streamed body).
    assert_eq!(read_all(body.next()).await.0, "");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_streamed_without_buffering() {
    let body = buffer(full(Bytes::from_static(b"0123456789")), 4, hold(1024))
        .await
        .expect("buffer");
    match body {
        RequestBody::Streamed(Some(b)) => assert_eq!(read_all(b).await.0, "0123456789"),
        _ => panic!("a 10-byte body was buffered with a 4-byte limit"),
    }
}

#[tokio::test]
async fn trailers_make_a_body_streamed_and_are_kept() {
    let mut body = buffer(chunked(&["ab"], true), 1024, hold(1024))
        .await
        .expect("buffer");
    assert!(!body.is_replayable());
    let (data, trailers) = read_all(body.next()).await;
    assert_eq!(data, "ab");
    let trailers = trailers.expect("trailers");
    assert_eq!(
        trailers.get("x-checksum").map(|v| v.as_bytes()),
        Some(&b"abc"[..])
    );
}

#[tokio::test]
async fn an_error_of_the_client_body_is_returned() {
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(Bytes::from_static(b"ab"))),
        Err("client went away".into()),
    ];
    let body = boxed(StreamBody::new(futures_util::stream::iter(frames)));
    assert!(buffer(body, 1024, hold(1024)).await.is_err());
}

mod policy {
    use std::time::Duration;

    use gatehouse_config::model::{RetryPolicy, RouteResilience, Upstream};

    use crate::upstream_call::CallPolicy;

    fn upstream(retry: Option<RetryPolicy>, total: Option<Duration>) -> Upstream {
        let mut u: Upstream = gatehouse_config::load_str(
            "listeners: [{ name: p, address: 127.0.0.1:0 }]\nupstreams: { u: { targets: [127.0.0.1:1] } }\n",
            std::path::Path::new("/etc/gatehouse/gatehouse.yaml"),
        )
        .expect("config")
        .upstreams
        .remove(0);
        u.resilience.retry = retry;
        u.timeouts.total = total;
        u.timeouts.request = Duration::from_secs(7);
        u
    }

    #[test]
    fn the_route_overrides_the_upstream() {
        let three = RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        };
        let u = upstream(Some(RetryPolicy::default()), Some(Duration::from_secs(9)));
        let p = CallPolicy::new(&RouteResilience::default(), &u);
        assert_eq!(p.retry, Some(RetryPolicy::default()));
        assert_eq!(p.total, Some(Duration::from_secs(9)));
        assert_eq!(p.per_try, Duration::from_secs(7));

        let route = RouteResilience {
            timeout: Some(Duration::from_secs(1)),
            retry: Some(three.clone()),
            ..RouteResilience::default()
        };
        let p = CallPolicy::new(&route, &u);
        assert_eq!(p.retry, Some(three));
        assert_eq!(p.total, Some(Duration::from_secs(1)));

        let off = RouteResilience {
            retry: Some(RetryPolicy::off()),
            ..RouteResilience::default()
        };
        assert_eq!(CallPolicy::new(&off, &u).retry, None);
        assert_eq!(CallPolicy::new(&off, &upstream(None, None)).total, None);
    }
}
