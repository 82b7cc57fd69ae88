//! A response body that is passed through to the client and, when it ends complete and within the
//! size limit, handed whole to a completion (which stores it). An error, a body past the limit or
//! a client that goes away before the end drops the completion unrun: nothing partial is stored.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

/// What runs with the complete body.
pub type Completion = Box<dyn FnOnce(Bytes) + Send + Sync>;

pin_project_lite::pin_project! {
    /// See the module docs.
    pub struct TeeBody<B> {
        #[pin]
        inner: B,
        buf: BytesMut,
        limit: usize,
        done: Option<Completion>,
    }
}

impl<B: Body<Data = Bytes>> TeeBody<B> {
    /// Tees `inner` into `done`, unless it grows past `limit` bytes.
    pub fn new(inner: B, limit: usize, done: Completion) -> TeeBody<B> {
        let mut body = TeeBody {
            buf: BytesMut::new(),
            limit,
            done: Some(done),
            inner,
        };
        if body.inner.is_end_stream() {
            // Nobody polls a body that is already over (e.g. `Content-Length: 0`).
            if let Some(done) = body.done.take() {
                done(Bytes::new());
            }
        }
        body
    }
}

impl<B: Body<Data = Bytes>> Body for TeeBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let (Some(data), true) = (f.data_ref(), this.done.is_some()) {
                    if this.buf.len() + data.len() > *this.limit {
                        *this.done = None;
                        *this.buf = BytesMut::new();
                    } else {
                        this.buf.extend_from_slice(data);
                    }
                }
                if this.inner.is_end_stream() {
                    complete(this.done, this.buf);
                }
            }
            Some(Err(_)) => *this.done = None,
            None => complete(this.done, this.buf),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn complete(done: &mut Option<Completion>, buf: &mut BytesMut) {
    if let Some(done) = done.take() {
        done(std::mem::take(buf).freeze());
    }
}

#[cfg(test)]
mod tests;
