//! Listeners: accept loops, connection limits (in all and per client address), TLS handshakes
//! (strict SNI), HTTP/1.1 + HTTP/2 connections (with framing and control-frame flood watches),
//! idle keep-alive timeouts and graceful draining.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gatehouse_config::model::Listener;
use gatehouse_plugins::{ClientCert, TlsInfo};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Error;
use crate::gateway::Shared;
use crate::metrics::Refusal;
use crate::proxy;
use crate::tls::ServerTls;

/// `AsyncWrite` for a read-side watcher `$guard<I>` (a pin-projected struct with an `io: I`
/// field): every write goes straight through to `io`.
macro_rules! write_through {
    ($guard:ident) => {
        impl<I: tokio::io::AsyncWrite> tokio::io::AsyncWrite for $guard<I> {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.project().io.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.project().io.poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.io.is_write_vectored()
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.project().io.poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.project().io.poll_shutdown(cx)
            }
        }
    };
}

pub mod framing;
pub mod h2_watch;
mod per_ip;

/// The HTTP/2 flow-control window of each request stream we grant clients.
const HTTP2_STREAM_WINDOW: u32 = 256 * 1024;
/// The HTTP/2 flow-control window of each client connection, all streams together.
const HTTP2_CONNECTION_WINDOW: u32 = 1024 * 1024;

/// Everything a connection needs from its listener.
pub(crate) struct ListenerCtx {
    pub(crate) name: Arc<str>,
    pub(crate) scheme: &'static str,
    pub(crate) max_body_bytes: u64,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    /// `limits.body_read_timeout` (zero = no limit).
    pub(crate) body_read_timeout: Duration,
    pub(crate) shared: Arc<Shared>,
    /// Connection and in-flight gauges.
    pub(crate) metrics: Arc<crate::metrics::ListenerMetrics>,
    /// TLS terms and the handshake timeout.
    tls: Option<(ServerTls, Duration)>,
    builder: auto::Builder<TokioExecutor>,
    idle_timeout: Duration,
    max_connections: Arc<Semaphore>,
    /// Open connections per client address; `None` = unlimited.
    per_ip: Option<Arc<per_ip::PerIp>>,
    /// `limits.http2_control_frame_budget` (0 = not watched).
    http2_frame_budget: u32,
}

/// Per-connection facts and activity, shared with the request handler.
pub(crate) struct ConnCtx {
    pub(crate) listener: Arc<ListenerCtx>,
    pub(crate) peer: SocketAddr,
    pub(crate) tls: Option<TlsInfo>,
    /// The client certificate presented in the TLS handshake (mTLS), when there was one.
    pub(crate) client_cert: Option<Arc<ClientCert>>,
    pub(crate) activity: Arc<Activity>,
}

/// Requests in flight on a connection and when it last did something.
#[derive(Default)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    last_active_ms: AtomicU64,
    base: Option<Instant>,
    /// What the HTTP/1 framing scanner found on this connection.
    pub(crate) framing: framing::Flags,
    /// Request-body bytes held in memory for this connection's requests (`server.request_buffers`).
    pub(crate) body_bytes: Arc<crate::upstream_call::budget::Held>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            base: Some(Instant::now()),
            ..Default::default()
        }
    }

    fn now_ms(&self) -> u64 {
        self.base
            .map(|b| b.elapsed().as_millis() as u64)
            .unwrap_or(0)
    }

    /// A request started on this connection.
    pub(crate) fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// A request finished on this connection.
    pub(crate) fn end(&self) {
        self.last_active_ms.store(self.now_ms(), Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = self.last_active_ms.load(Ordering::Acquire);
        Some(Duration::from_millis(self.now_ms().saturating_sub(last)))
    }
}

/// A bound listener, ready to serve.
pub(crate) struct Bound {
    pub(crate) tcp: TcpListener,
    pub(crate) ctx: Arc<ListenerCtx>,
}

/// Binds a listener and prepares its connection settings.
pub(crate) async fn bind(listener: &Listener, shared: Arc<Shared>) -> Result<Bound, Error> {
    let fail = |message: String| Error::Listener {
        name: listener.name.clone(),
        message,
    };
    let tls = match &listener.tls {
        Some(tls) => Some((
            crate::tls::server_config(&listener.name, tls)?,
            listener.limits.tls_handshake_timeout,
        )),
        None => None,
    };
    let tcp = TcpListener::bind(listener.address)
        .await
        .map_err(|e| fail(format!("cannot bind {}: {e}", listener.address)))?;
    let limits = &listener.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // Hard caps at twice the configured limits; below them the proxy answers 431 itself with
        // a problem+json body (see `proxy::head_too_large`).
        .max_buf_size(limits.max_header_bytes.saturating_mul(2).max(8192))
        .max_headers(limits.max_headers.saturating_mul(2));
    builder
        .http2()
        .timer(TokioTimer::new())
        // Unread request data a client may push is bounded by these windows (hyper replenishes
        // them only as the pipeline reads): 256 KiB per stream, 1 MiB per connection.
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .max_header_list_size(
            u32::try_from(limits.max_header_bytes.saturating_mul(2)).unwrap_or(u32::MAX),
        );
    let ctx = Arc::new(ListenerCtx {
        metrics: crate::metrics::ListenerMetrics::register(
            &listener.name,
            &shared.snapshot.load().metrics,
        ),
        name: Arc::from(listener.name.as_str()),
        scheme: if tls.is_some() { "https" } else { "http" },
        max_body_bytes: limits.max_body_bytes,
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
        body_read_timeout: limits.body_read_timeout,
        shared,
        tls,
        builder,
        idle_timeout: limits.idle_timeout,
        max_connections: Arc::new(Semaphore::new(limits.max_connections)),
        per_ip: per_ip::PerIp::new(limits.max_connections_per_ip),
        http2_frame_budget: limits.http2_control_frame_budget,
    });
    Ok(Bound { tcp, ctx })
}

/// Accepts connections until `shutdown` flips; each connection holds a clone of `drain` so that
/// the gateway can wait for all of them to finish.
pub(crate) async fn accept_loop(
    bound: Bound,
    mut shutdown: watch::Receiver<bool>,
    drain: mpsc::Sender<()>,
) {
    let Bound { tcp, ctx } = bound;
    loop {
        let permit = tokio::select! {
            permit = ctx.max_connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(listener = %ctx.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // Over its address's cap, a connection is closed before any TLS or HTTP work.
        let Ok(per_ip) = per_ip_slot(&ctx, peer) else {
            tracing::debug!(listener = %ctx.name, %peer, "connections per address over the cap: closed");
            ctx.metrics.refused(Refusal::PerIpLimit);
            drop(stream);
            continue;
        };
        let ctx = ctx.clone();
        let shutdown = shutdown.clone();
        let drain = drain.clone();
        tokio::spawn(async move {
            serve_tcp(stream, peer, ctx, shutdown).await;
            drop(per_ip);
            drop(permit);
            drop(drain);
        });
    }
}

/// Counts a connection from `peer` against `limits.max_connections_per_ip`: `Ok(None)` when not
/// counted (no cap, or a trusted proxy, which carries many clients), `Err` when over the cap.
fn per_ip_slot(ctx: &ListenerCtx, peer: SocketAddr) -> Result<Option<per_ip::Slot>, ()> {
    let Some(table) = &ctx.per_ip else {
        return Ok(None);
    };
    let snapshot = ctx.shared.snapshot.load();
    if crate::forwarding::is_trusted(peer.ip(), &snapshot.config.server.trusted_proxies) {
        return Ok(None);
    }
    table.try_acquire(peer.ip()).map(Some).ok_or(())
}

async fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<ListenerCtx>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    match &ctx.tls {
        None => serve_io(stream, peer, None, None, ctx, shutdown).await,
        Some((tls, handshake_timeout)) => {
            let tls_stream = match tokio::time::timeout(
                *handshake_timeout,
                tls_handshake(stream, tls, &ctx.metrics),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(listener = %ctx.name, %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(listener = %ctx.name, %peer, "TLS handshake timed out");
                    return;
                }
            };
            let (_, session) = tls_stream.get_ref();
            let info = TlsInfo {
                server_name: session.server_name().map(str::to_owned),
                alpn: session.alpn_protocol().map(<[u8]>::to_vec),
            };
            let client_cert = tls
                .client_auth
                .as_ref()
                .and_then(|auth| auth.client_cert(session.peer_certificates()))
                .map(Arc::new);
            serve_io(tls_stream, peer, Some(info), client_cert, ctx, shutdown).await
        }
    }
}

/// The TLS handshake: reads the ClientHello first so that, with `tls.strict_sni`, a name that
/// matches no certificate (or no name) is refused with an `unrecognized_name` alert before the
/// server says anything else.
async fn tls_handshake(
    stream: TcpStream,
    tls: &ServerTls,
    metrics: &crate::metrics::ListenerMetrics,
) -> std::io::Result<TlsStream<TcpStream>> {
    let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream).await?;
    if !tls.sni.recognizes(start.client_hello().server_name()) {
        metrics.refused(Refusal::UnrecognizedName);
        let mut io = start.io;
        let _ = io.write_all(&crate::tls::UNRECOGNIZED_NAME_ALERT).await;
        let _ = io.shutdown().await;
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "strict SNI: unrecognized server name",
        ));
    }
    start.into_stream(tls.config.clone()).await
}

async fn serve_io<I>(
    io: I,
    peer: SocketAddr,
    tls: Option<TlsInfo>,
    client_cert: Option<Arc<ClientCert>>,
    ctx: Arc<ListenerCtx>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _open = ctx.metrics.connection();
    let activity = Arc::new(Activity::new());
    let conn_ctx = Arc::new(ConnCtx {
        listener: ctx.clone(),
        peer,
        tls,
        client_cert,
        activity: activity.clone(),
    });
    // hyper keeps one `Box<Option<S::Future>>` per connection for its whole life; boxing the
    // (large) request future here keeps that per-connection allocation at pointer size, so idle
    // keep-alive connections stay small. The request future itself lives only while in flight.
    let service = service_fn(move |req| Box::pin(proxy::handle(req, conn_ctx.clone())));
    // Every byte read also feeds the HTTP/1 framing scanner, which sees what hyper hides (a head
    // with both `Content-Length` and `Transfer-Encoding`); see `framing`.
    let io = framing::FramingGuard::new(io, activity.clone());
    // …and the HTTP/2 control-frame flood watch, which ends a connection over its budget.
    let io = h2_watch::H2Guard::new(io, ctx.http2_frame_budget, ctx.metrics.clone());
    let conn = ctx
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let idle = ctx.idle_timeout;
    // One timer per connection, re-armed to the moment the connection would become idle for
    // `idle`, so an idle connection costs one wake-up per idle period, not one per second.
    let idle_check = tokio::time::sleep(idle);
    tokio::pin!(idle_check);
    let mut closing = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(listener = %ctx.name, %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = &mut idle_check, if !closing => {
                match activity.idle_for() {
                    Some(d) if d >= idle => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Some(d) => idle_check.as_mut().reset(tokio::time::Instant::now() + (idle - d)),
                    None => idle_check.as_mut().reset(tokio::time::Instant::now() + idle),
                }
            }
        }
    }
}
