//! A fault-injecting upstream: refuses, resets, hangs, answers slowly, fails in bursts or lies
//! about its `Content-Length` — and counts its attempts and open connections, so tests can check
//! what the gateway did and that it left nothing behind.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::upstream::{BoxError, ResponseBody, Upstream, free_port, spawn_tcp};

/// The body of every successful answer of a [`Faulty`] upstream.
pub const FAULTY_OK_BODY: &str = "ok";

/// `Content-Length` announced by [`Fault::ResetMidBody`] and [`Fault::WrongContentLength`].
pub const FAULTY_ANNOUNCED_LEN: usize = 1000;

/// Body bytes actually sent by [`Fault::ResetMidBody`] and [`Fault::WrongContentLength`].
pub const FAULTY_SENT_LEN: usize = 100;

/// What a [`Faulty`] upstream does with each request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Nothing listens: every connection is refused (no attempt is ever seen).
    Refuse,
    /// Reads the request head, then resets the connection without answering.
    ResetBeforeHead,
    /// Sends a `200` head announcing [`FAULTY_ANNOUNCED_LEN`] bytes, [`FAULTY_SENT_LEN`] of them,
    /// then resets the connection.
    ResetMidBody,
    /// Reads the request and never answers; the connection stays open until the client closes it.
    Hang,
    /// Answers `200` [`FAULTY_OK_BODY`] after this delay.
    SlowFirstByte(Duration),
    /// Sends a `200` head at once, then `chunks` one-byte chunks `interval` apart.
    SlowBody {
        /// Body chunks to send.
        chunks: usize,
        /// Pause before each chunk.
        interval: Duration,
    },
    /// The first `failures` requests get `status` (with `Retry-After: retry_after` seconds when
    /// set), later ones `200` [`FAULTY_OK_BODY`].
    Burst {
        /// Requests that fail.
        failures: usize,
        /// Their status.
        status: u16,
        /// Their `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Sends a `200` head announcing [`FAULTY_ANNOUNCED_LEN`] bytes, [`FAULTY_SENT_LEN`] of them,
    /// then closes the connection gracefully (FIN).
    WrongContentLength,
}

/// A running fault-injecting upstream (HTTP/1.1 with keep-alive where the fault allows it).
#[derive(Debug)]
pub struct Faulty {
    /// The address to use as a target.
    pub addr: SocketAddr,
    attempts: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    _upstream: Option<Upstream>,
}

impl Faulty {
    /// Requests received (for [`Fault::Refuse`], always 0).
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// TCP connections currently open.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits up to `limit` for at most `max` connections to remain open; returns the count seen
    /// last (connections close asynchronously after the gateway drops them).
    pub async fn settle_open_connections(&self, max: usize, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let open = self.open_connections();
            if open <= max || tokio::time::Instant::now() >= deadline {
                return open;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Spawns an upstream applying `fault` to every request.
pub async fn spawn_faulty(fault: Fault) -> Faulty {
    let attempts = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    if let Fault::Refuse = fault {
        return Faulty {
            addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            attempts,
            open,
            _upstream: None,
        };
    }
    let (counted, gauge) = (attempts.clone(), open.clone());
    let upstream = spawn_tcp(move |stream, _hits| {
        let (attempts, open) = (counted.clone(), gauge.clone());
        async move {
            open.fetch_add(1, Ordering::SeqCst);
            let _open = OpenGuard(open);
            serve(fault, stream, attempts).await;
        }
    })
    .await;
    Faulty {
        addr: upstream.addr,
        attempts,
        open,
        _upstream: Some(upstream),
    }
}

/// Decrements the open-connection gauge when the connection task ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(fault: Fault, mut stream: TcpStream, attempts: Arc<AtomicUsize>) {
    match fault {
        Fault::Refuse => {}
        Fault::ResetBeforeHead => {
            if read_head(&mut stream).await {
                attempts.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_zero_linger();
            }
        }
        Fault::Hang => {
            if read_head(&mut stream).await {
                attempts.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            }
        }
        Fault::ResetMidBody | Fault::WrongContentLength => {
            if !read_head(&mut stream).await {
                return;
            }
            attempts.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {FAULTY_ANNOUNCED_LEN}\r\n\r\n"
            );
            let mut out = head.into_bytes();
            out.extend_from_slice(&[b'x'; FAULTY_SENT_LEN]);
            if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            if let Fault::ResetMidBody = fault {
                let _ = stream.set_zero_linger();
            } else {
                let _ = stream.shutdown().await;
            }
        }
        Fault::SlowFirstByte(_) | Fault::SlowBody { .. } | Fault::Burst { .. } => {
            let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                async move {
                    // Read the request body so keep-alive works.
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(answer(fault, n).await)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .http1_only()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }
}

/// The answer of the `n`-th (0-based) request for the HTTP-level faults.
async fn answer(fault: Fault, n: usize) -> Response<ResponseBody> {
    let ok = || {
        let body = Full::new(Bytes::from_static(FAULTY_OK_BODY.as_bytes()));
        Response::new(body.map_err(|e| -> BoxError { match e {} }).boxed_unsync())
    };
    match fault {
        Fault::SlowFirstByte(delay) => {
            tokio::time::sleep(delay).await;
            ok()
        }
        Fault::SlowBody { chunks, interval } => {
            let frames = futures_util::stream::iter(0..chunks).then(move |_| async move {
                tokio::time::sleep(interval).await;
                Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"s")))
            });
            let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
            response.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(chunks),
            );
            response
        }
        Fault::Burst {
            failures,
            status,
            retry_after,
        } if n < failures => {
            let mut response = ok();
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
            }
            response
        }
        _ => ok(),
    }
}

/// Reads until the end of the request head; `false` if the peer closes first.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 && head.len() + n <= 64 * 1024 => head.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    true
}

/// Requests `gw` still counts in flight on its clusters' targets (a request stays in flight
/// until its response body has been sent to the client).
pub fn in_flight(gw: &crate::gateway::TestGateway) -> u64 {
    let snapshot = gw.gateway.snapshot();
    (snapshot.clusters())
        .flat_map(|(_, c)| c.status())
        .map(|t| t.in_flight)
        .sum()
}

/// Waits until `gw` has no request in flight, failing the test after
/// [`STEP_LIMIT`](crate::gateway::STEP_LIMIT).
pub async fn settle_in_flight(gw: &crate::gateway::TestGateway) {
    crate::gateway::within("requests in flight back to 0", async {
        while in_flight(gw) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
