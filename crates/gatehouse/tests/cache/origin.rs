//! A test origin whose caching headers are chosen by the request's query, and that counts what
//! it receives.
//!
//! Query parameters (all optional; the query is also part of the cache key, so each test uses its
//! own combination): `cc` → `Cache-Control`, `etag` → `ETag` (and 304 to a matching
//! `If-None-Match`), `lm=1` → a fixed `Last-Modified` (304 to `If-Modified-Since`), `status`,
//! `cookie=1` → `Set-Cookie`, `vary` → `Vary`, `expires` → `Date` and `Expires` 60 s later (or
//! `expires=bad`), `delay` (ms) before answering, `size` → a body of that many bytes, `break=1` →
//! a body that fails after its first chunk. The default body is JSON: `n` (the origin's request
//! count when it answered) and every request header.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A running origin; stops when dropped.
pub struct Origin {
    pub addr: SocketAddr,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    /// 304s sent.
    pub not_modified: Arc<AtomicUsize>,
    /// When set, every request is answered 503.
    pub failing: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub async fn spawn() -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let not_modified = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(AtomicBool::new(false));
    let state = (hits.clone(), not_modified.clone(), failing.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(answer(req, &state.0, &state.1, &state.2).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Origin {
        addr,
        hits,
        not_modified,
        failing,
        task,
    }
}

const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

async fn answer(
    req: Request<Incoming>,
    hits: &AtomicUsize,
    not_modified: &AtomicUsize,
    failing: &AtomicBool,
) -> Response<Body> {
    let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.replace("%20", " ")
                    .replace("%2C", ",")
                    .replace("%3D", "="),
            )
        })
        .collect();
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(ms) = q("delay").and_then(|d| d.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut builder = Response::builder();
    if failing.load(Ordering::SeqCst) {
        return builder.status(503).body(full("down")).expect("response");
    }
    if let Some(cc) = q("cc") {
        builder = builder.header("cache-control", cc);
    }
    if let Some(etag) = q("etag") {
        let etag = format!("\"{etag}\"");
        builder = builder.header("etag", &etag);
        if req
            .headers()
            .get("if-none-match")
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
        {
            not_modified.fetch_add(1, Ordering::SeqCst);
            return builder.status(304).body(full("")).expect("response");
        }
    }
    if q("lm") == Some("1") {
        builder = builder.header("last-modified", LAST_MODIFIED);
        if req
            .headers()
            .get("if-modified-since")
            .is_some_and(|v| v == LAST_MODIFIED)
        {
            not_modified.fetch_add(1, Ordering::SeqCst);
            return builder.status(304).body(full("")).expect("response");
        }
    }
    if q("cookie") == Some("1") {
        builder = builder.header("set-cookie", "session=abc");
    }
    if let Some(vary) = q("vary") {
        builder = builder.header("vary", vary);
    }
    match q("expires") {
        Some("bad") => builder = builder.header("expires", "0"),
        Some(_) => {
            builder = builder
                .header("date", "Sun, 06 Nov 1994 08:49:37 GMT")
                .header("expires", "Sun, 06 Nov 1994 08:50:37 GMT");
        }
        None => {}
    }
    let status = q("status").and_then(|s| s.parse().ok()).unwrap_or(200);
    builder = builder.status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    if let Some(size) = q("size").and_then(|s| s.parse().ok()) {
        return builder.body(full(&"x".repeat(size))).expect("response");
    }
    if q("break") == Some("1") {
        return builder
            .header("content-length", "100")
            .body(BodyExt::boxed(Broken(None)))
            .expect("response");
    }
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    let body = serde_json::json!({ "n": n, "method": req.method().as_str(), "headers": headers });
    builder
        .header("content-type", "application/json")
        .body(full(&body.to_string()))
        .expect("response")
}

fn full(text: &str) -> Body {
    Full::new(Bytes::from(text.to_owned()))
        .map_err(|never| match never {})
        .boxed()
}

/// A body that sends one chunk, then (after a pause, so that the head and the chunk are flushed)
/// fails: the origin breaks mid-body.
struct Broken(Option<Pin<Box<tokio::time::Sleep>>>);

impl hyper::body::Body for Broken {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.0.as_mut() {
            None => {
                self.0 = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"partial")))))
            }
            Some(pause) => match pause.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => Poll::Ready(Some(Err("origin broke mid-body".into()))),
            },
        }
    }
}
