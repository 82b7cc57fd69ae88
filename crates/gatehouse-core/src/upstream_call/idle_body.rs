//! The upstream response body with a bound on the wait for each chunk (`timeouts.body`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_upstream::retry::TimeoutKind;
use gatehouse_upstream::{BoxError, Cluster};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

/// No body chunk arrived from the upstream within `timeouts.body`.
#[derive(Debug, thiserror::Error)]
#[error("upstream sent no body data within {0:?}")]
pub(crate) struct BodyTimedOut(Duration);

/// An upstream response body that fails when the upstream sends nothing for `timeout`.
pub(crate) struct IdleBody {
    inner: Incoming,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    cluster: Arc<Cluster>,
}

impl IdleBody {
    /// Wraps `inner`; the first chunk is awaited for at most `timeout` from now.
    pub(crate) fn new(inner: Incoming, timeout: Duration, cluster: Arc<Cluster>) -> IdleBody {
        IdleBody {
            inner,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            cluster,
        }
    }
}

impl Body for IdleBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let deadline = Instant::now() + self.timeout;
                self.sleep.as_mut().reset(deadline);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.cluster.call_stats().timeout(TimeoutKind::Body);
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut(self.timeout)))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
