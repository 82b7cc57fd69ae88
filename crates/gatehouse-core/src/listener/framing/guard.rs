//! The connection wrapper that feeds a [`Scanner`] and the flags it shares with the handler.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{Scanner, Status};
use crate::listener::Activity;

/// What the scanner of a connection tells its request handler, and back.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    conflict: AtomicBool,
    stop: AtomicBool,
}

impl Flags {
    /// Whether a request head on this connection carried both `Content-Length` and
    /// `Transfer-Encoding`: every request from then on must be refused.
    pub(crate) fn conflict(&self) -> bool {
        self.conflict.load(Ordering::Acquire)
    }

    /// The handler found a request whose framing it refuses (e.g. `Transfer-Encoding: chunked,
    /// chunked`): like a conflict, the response closes the connection and no later request on it
    /// is served.
    pub(crate) fn refuse_connection(&self) {
        self.conflict.store(true, Ordering::Release);
    }

    /// The connection switched protocols: stop scanning what follows.
    pub(crate) fn stop_scanning(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

pin_project_lite::pin_project! {
    /// A client connection whose incoming bytes pass through a [`Scanner`], unchanged.
    pub(crate) struct FramingGuard<I> {
        #[pin]
        io: I,
        scanner: Scanner,
        activity: Arc<Activity>,
    }
}

impl<I> FramingGuard<I> {
    /// Wraps `io`; the verdict lands in `activity.framing`.
    pub(crate) fn new(io: I, activity: Arc<Activity>) -> Self {
        FramingGuard {
            io,
            scanner: Scanner::new(),
            activity,
        }
    }
}

impl<I: AsyncRead> AsyncRead for FramingGuard<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.io.poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && this.scanner.status() == Status::Scanning
        {
            let flags = &this.activity.framing;
            if flags.stop.load(Ordering::Acquire) {
                this.scanner.stop();
            } else if let Some(new) = buf.filled().get(before..)
                && this.scanner.feed(new) == Status::Conflict
            {
                flags.conflict.store(true, Ordering::Release);
            }
        }
        result
    }
}

write_through!(FramingGuard);
