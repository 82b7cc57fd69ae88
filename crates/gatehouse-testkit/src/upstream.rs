//! The shared handle of every test upstream and the one accept loop they all run on.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Error type of the response bodies the test upstreams produce.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body every HTTP test upstream answers with.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A running test upstream, listening on `127.0.0.1` on a port picked by the OS.
///
/// Dropping it shuts the server down: the listener is closed and every open
/// connection is dropped (so in-flight requests see a connection reset).
#[derive(Debug)]
pub struct Upstream {
    /// The address the server listens on.
    pub addr: SocketAddr,
    /// Requests received (HTTP requests, gRPC calls, WebSocket handshakes).
    pub hits: Arc<AtomicUsize>,
    /// TCP connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Dropping the sender tells the accept loop and every connection to stop.
    _shutdown: watch::Sender<()>,
}

// === impl Upstream ===

impl Upstream {
    /// `http://{addr}`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://{addr}{path}`; `path` should start with `/`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Which HTTP versions an upstream speaks on its plain-text port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpMode {
    /// HTTP/1.1 and h2c (prior knowledge), detected per connection.
    Auto,
    /// h2c with prior knowledge only; HTTP/1.1 requests fail.
    Http2Only,
}

/// Binds `127.0.0.1:0` and runs `on_conn` for every accepted TCP connection, each
/// in its own task, until the returned [`Upstream`] is dropped.
///
/// `on_conn` gets the stream and the `hits` counter; it counts the requests itself.
/// This is the only accept loop of the crate.
pub(crate) async fn spawn_tcp<F, Fut>(on_conn: F) -> Upstream
where
    F: Fn(TcpStream, Arc<AtomicUsize>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("testkit: bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("testkit: local_addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(AtomicUsize::new(0));
    let (shutdown, mut stopped) = watch::channel(());

    let (task_hits, task_connections) = (hits.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    // Transient errors (e.g. EMFILE) must not kill the upstream.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = stopped.changed() => return,
            };
            task_connections.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_nodelay(true);
            let conn = on_conn(stream, task_hits.clone());
            let mut conn_stopped = stopped.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = conn => {}
                    _ = conn_stopped.changed() => {}
                }
            });
        }
    });

    Upstream {
        addr,
        hits,
        connections,
        _shutdown: shutdown,
    }
}

/// Serves `handler` over HTTP on a fresh [`Upstream`]; every request counts as a hit.
///
/// `handler` gets the request and the upstream's own address.
pub(crate) async fn spawn_http<F, Fut, B>(mode: HttpMode, handler: F) -> Upstream
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    spawn_tcp(move |stream, hits| {
        let handler = handler.clone();
        async move {
            let Ok(local) = stream.local_addr() else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                hits.fetch_add(1, Ordering::SeqCst);
                let response = handler(req, local);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            if mode == HttpMode::Http2Only {
                builder = builder.http2_only();
            }
            // Connection errors (client gone, reset, bad preface) are part of the tests.
            // (`serve_connection_with_upgrades` would ignore `http2_only`.)
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await
}

/// Returns a TCP port on `127.0.0.1` that was free a moment ago (racy by nature:
/// prefer letting the server bind port 0 when possible).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("testkit: bind 127.0.0.1:0")
}
