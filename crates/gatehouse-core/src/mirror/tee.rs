//! The request body sent to the primary upstream, copied frame by frame for the mirror.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use gatehouse_upstream::{BoxError, ProxyBody};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

/// The copy being collected: frames so far, and where the complete body goes.
struct Copy {
    frames: Vec<Bytes>,
    len: u64,
    max: u64,
    done: oneshot::Sender<Bytes>,
}

impl Copy {
    fn finish(self) {
        let mut body = BytesMut::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for frame in &self.frames {
            body.extend_from_slice(frame);
        }
        // The mirror task may be gone (runtime shutting down): nothing to do then.
        let _ = self.done.send(body.freeze());
    }
}

/// A body passing `inner` through unchanged while copying its data frames (cheap `Bytes` clones)
/// for the mirror. The copy is handed over once `inner` is complete; it is abandoned — dropping
/// the sender, which the mirror counts as dropped — when it grows beyond `max` bytes, when `inner`
/// fails, or when this body is dropped before its end. Trailers are not mirrored.
pub(crate) struct TeeBody {
    inner: ProxyBody,
    copy: Option<Copy>,
}

impl TeeBody {
    /// Tees `inner`, copying at most `max` bytes, the complete copy going to `done`.
    pub(crate) fn new(inner: ProxyBody, max: u64, done: oneshot::Sender<Bytes>) -> Self {
        TeeBody {
            inner,
            copy: Some(Copy {
                frames: Vec::new(),
                len: 0,
                max,
                done,
            }),
        }
    }

    fn finish(&mut self) {
        if let Some(copy) = self.copy.take() {
            copy.finish();
        }
    }
}

impl Body for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(copy)) = (frame.data_ref(), this.copy.as_mut()) {
                    copy.len += data.len() as u64;
                    if copy.len > copy.max {
                        this.copy = None;
                    } else {
                        copy.frames.push(data.clone());
                    }
                }
                // hyper stops polling once the body says it is over.
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => this.copy = None,
            Poll::Ready(None) => this.finish(),
            Poll::Pending => {}
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

impl Drop for TeeBody {
    fn drop(&mut self) {
        // Complete even if nobody polled the end (e.g. the last frame made `is_end_stream` true
        // only after it was read); otherwise the copy is abandoned with the sender.
        if self.inner.is_end_stream() {
            self.finish();
        }
    }
}
