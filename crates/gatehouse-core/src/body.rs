//! Body adapters: a request body that enforces a size limit and a read timeout while streaming,
//! and a response body that runs the log phase when it finishes (or is dropped).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use gatehouse_upstream::{BoxError, ProxyBody};

/// The body-size limit was exceeded while streaming.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds the configured limit")]
pub struct BodyLimitExceeded;

/// The client sent no body bytes for longer than the read timeout.
#[derive(Debug, thiserror::Error)]
#[error("request body read timed out")]
pub struct BodyReadTimedOut;

pin_project_lite::pin_project! {
    /// A request body that fails once more than `remaining` bytes arrive, flagging `exceeded`;
    /// an error of the client's body itself (bad chunk, client gone) flags `client_failed`; with
    /// a [read timeout](LimitedBody::read_timeout), waiting longer than it for the client's next
    /// chunk fails the body and flags `timed_out`.
    pub struct LimitedBody<B> {
        #[pin]
        inner: B,
        remaining: u64,
        exceeded: Arc<AtomicBool>,
        client_failed: Arc<AtomicBool>,
        counted: Option<Arc<crate::metrics::RouteMetrics>>,
        read: Option<RequestBytes>,
        idle: Option<ReadTimer>,
    }
}

/// The read timeout of a [`LimitedBody`]: the timer runs only while the body waits for the
/// client (polled and pending), so a consumer that pauses (upstream back-pressure) is not blamed
/// on the client. Its `Sleep` is allocated the first time the body has to wait.
struct ReadTimer {
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether `sleep` is set for the current wait.
    armed: bool,
    timed_out: Arc<AtomicBool>,
}

impl ReadTimer {
    /// The body is waiting for the client: starts the wait's timer if needed; true once expired.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = || tokio::time::Instant::now() + self.timeout;
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if !self.armed {
                    sleep.as_mut().reset(deadline());
                }
                sleep
            }
            None => self
                .sleep
                .insert(Box::pin(tokio::time::sleep_until(deadline()))),
        };
        self.armed = true;
        if sleep.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Release);
            return true;
        }
        false
    }
}

/// The request body bytes read from the client so far (for the access log's `bytes_in`), kept
/// in the request context's extensions once the body is wired to the upstream.
#[derive(Debug, Clone, Default)]
pub struct RequestBytes(Arc<AtomicU64>);

impl RequestBytes {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl<B> LimitedBody<B> {
    /// Wraps `inner`, allowing at most `limit` bytes.
    pub fn new(
        inner: B,
        limit: u64,
        exceeded: Arc<AtomicBool>,
        client_failed: Arc<AtomicBool>,
    ) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            exceeded,
            client_failed,
            counted: None,
            read: None,
            idle: None,
        }
    }

    /// Also fails the body, flagging `timed_out`, when the client sends nothing for `timeout`
    /// while the body waits for it (zero = no limit).
    pub fn read_timeout(mut self, timeout: Duration, timed_out: &Arc<AtomicBool>) -> Self {
        self.idle = (!timeout.is_zero()).then(|| ReadTimer {
            timeout,
            sleep: None,
            armed: false,
            timed_out: timed_out.clone(),
        });
        self
    }

    /// Also counts the bytes that pass in the route's `gatehouse_request_bytes_total`.
    pub fn counting(mut self, route: &Arc<crate::metrics::RouteMetrics>) -> Self {
        self.counted = Some(route.clone());
        self
    }

    /// Also adds the bytes that pass to `read`.
    pub fn tally(mut self, read: &RequestBytes) -> Self {
        self.read = Some(read.clone());
        self
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Some(idle) = this.idle.as_mut() {
            if polled.is_pending() {
                if idle.expired(cx) {
                    *this.idle = None;
                    return Poll::Ready(Some(Err(Box::new(BodyReadTimedOut))));
                }
            } else {
                idle.armed = false;
            }
        }
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > *this.remaining {
                        this.exceeded.store(true, Ordering::Release);
                        return Poll::Ready(Some(Err(Box::new(BodyLimitExceeded))));
                    }
                    *this.remaining -= len;
                    if let Some(route) = this.counted {
                        route.request_bytes(data.len());
                    }
                    if let Some(read) = this.read {
                        read.0.fetch_add(len, Ordering::Relaxed);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.client_failed.store(true, Ordering::Release);
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Something to run once when a response is over.
pub trait OnDone: Send + Sync + 'static {
    /// Called once, when the body ended, failed or was dropped.
    fn done(&mut self);

    /// Called for each data frame passed to the client, with its length. Does nothing by default.
    fn data(&mut self, _len: usize) {}
}

pin_project_lite::pin_project! {
    /// A response body that calls [`OnDone::done`] when it ends or is dropped.
    pub struct DoneBody<D: OnDone> {
        #[pin]
        inner: ProxyBody,
        hook: Option<D>,
    }

    impl<D: OnDone> PinnedDrop for DoneBody<D> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(mut hook) = this.project().hook.take() {
                hook.done();
            }
        }
    }
}

impl<D: OnDone> DoneBody<D> {
    /// Wraps `inner`, running `hook` when it is over.
    pub fn new(inner: ProxyBody, hook: D) -> Self {
        DoneBody {
            inner,
            hook: Some(hook),
        }
    }
}

impl<D: OnDone> Body for DoneBody<D> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let (Some(data), Some(hook)) = (frame.data_ref(), this.hook.as_mut())
        {
            hook.data(data.len());
        }
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_))))
            && let Some(mut hook) = this.hook.take()
        {
            hook.done();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A complete in-memory body as a [`ProxyBody`].
pub fn full(bytes: Bytes) -> ProxyBody {
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed()
}

/// Boxes any body into a [`ProxyBody`].
pub fn boxed<B>(body: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}

#[cfg(test)]
mod tests;
