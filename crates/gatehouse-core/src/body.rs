//! Body adapters: a request body that enforces a size limit while streaming, and a response body
//! that runs the log phase when it finishes (or is dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use gatehouse_upstream::{BoxError, ProxyBody};

/// The body-size limit was exceeded while streaming.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds the configured limit")]
pub struct BodyLimitExceeded;

pin_project_lite::pin_project! {
    /// A request body that fails once more than `remaining` bytes arrive, flagging `exceeded`;
    /// an error of the client's body itself (bad chunk, client gone) flags `client_failed`.
    pub struct LimitedBody<B> {
        #[pin]
        inner: B,
        remaining: u64,
        exceeded: Arc<AtomicBool>,
        client_failed: Arc<AtomicBool>,
        counted: Option<Arc<crate::metrics::RouteMetrics>>,
        read: Option<RequestBytes>,
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
        }
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
        match this.inner.poll_frame(cx) {
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
