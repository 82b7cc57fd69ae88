//! The request body of an upstream call: buffered (replayable on a retry) when it fits in
//! `retry.buffer_body`, streamed otherwise; refused when it fits but the memory budget
//! (`server.request_buffers`) is spent.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use gatehouse_upstream::{BoxError, ProxyBody};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::budget::Hold;
use crate::body::{boxed, full};

/// A request body, either kept whole for replays or streamed once.
pub(crate) enum RequestBody {
    /// The whole body (replayable), and its hold on the memory budget (given back when dropped).
    Buffered {
        /// The body.
        bytes: Bytes,
        /// Its bytes' share of `server.request_buffers`.
        _hold: Hold,
    },
    /// A body sent once; `None` once taken.
    Streamed(Option<ProxyBody>),
}

impl RequestBody {
    /// Whether the body can be sent again.
    pub(crate) fn is_replayable(&self) -> bool {
        matches!(self, RequestBody::Buffered { .. })
    }

    /// The body for the next try; an empty body if a streamed one was already taken.
    pub(crate) fn next(&mut self) -> ProxyBody {
        match self {
            RequestBody::Buffered { bytes, .. } => full(bytes.clone()),
            RequestBody::Streamed(body) => body.take().unwrap_or_else(|| full(Bytes::new())),
        }
    }
}

/// What [`buffer`] made of a request body.
pub(crate) enum Buffered {
    /// Kept whole, or streamed.
    Body(RequestBody),
    /// It fits the retry buffer but not the memory budget (`server.request_buffers`): the gateway
    /// holds as many request bodies as it may, so the request is refused (503, load shed).
    OverBudget,
}

/// Reads `body` into memory while it fits in `limit` bytes; past that (or at trailers) the frames
/// read so far are put back in front of the rest, and the body is streamed. Every byte kept is
/// taken from `hold` first; when it cannot grow, [`Buffered::OverBudget`].
pub(crate) async fn buffer(
    mut body: ProxyBody,
    limit: u64,
    mut hold: Hold,
) -> Result<Buffered, BoxError> {
    if body.is_end_stream() {
        return Ok(Buffered::Body(RequestBody::Buffered {
            bytes: Bytes::new(),
            _hold: hold,
        }));
    }
    if body.size_hint().lower() > limit {
        return Ok(Buffered::Body(RequestBody::Streamed(Some(body))));
    }
    let mut frames = VecDeque::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let is_data = frame.is_data();
        if let Some(data) = frame.data_ref() {
            len += data.len() as u64;
            if len <= limit && !hold.try_grow(data.len() as u64) {
                return Ok(Buffered::OverBudget);
            }
        }
        frames.push_back(frame);
        if !is_data || len > limit {
            let rest = Prefixed { frames, rest: body };
            return Ok(Buffered::Body(RequestBody::Streamed(Some(boxed(rest)))));
        }
    }
    let mut whole = bytes::BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
    for frame in frames {
        if let Ok(data) = frame.into_data() {
            whole.extend_from_slice(&data);
        }
    }
    Ok(Buffered::Body(RequestBody::Buffered {
        bytes: whole.freeze(),
        _hold: hold,
    }))
}

/// Frames already read, then the rest of the body.
struct Prefixed {
    frames: VecDeque<Frame<Bytes>>,
    rest: ProxyBody,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = (self.frames.iter())
            .filter_map(|f| f.data_ref().map(|d| d.len() as u64))
            .sum();
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + buffered);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + buffered);
        }
        hint
    }
}
