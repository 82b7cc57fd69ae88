//! The request body of an upstream call: buffered (replayable on a retry) when it fits in
//! `retry.buffer_body`, streamed otherwise.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use gatehouse_upstream::{BoxError, ProxyBody};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::body::{boxed, full};

/// A request body, either kept whole for replays or streamed once.
pub(crate) enum RequestBody {
    /// The whole body (replayable).
    Buffered(Bytes),
    /// A body sent once; `None` once taken.
    Streamed(Option<ProxyBody>),
}

impl RequestBody {
    /// Whether the body can be sent again.
    pub(crate) fn is_replayable(&self) -> bool {
        matches!(self, RequestBody::Buffered(_))
    }

    /// The body for the next try; an empty body if a streamed one was already taken.
    pub(crate) fn next(&mut self) -> ProxyBody {
        match self {
            RequestBody::Buffered(bytes) => full(bytes.clone()),
            RequestBody::Streamed(body) => body.take().unwrap_or_else(|| full(Bytes::new())),
        }
    }
}

/// Reads `body` into memory while it fits in `limit` bytes; past that (or at trailers) the frames
/// read so far are put back in front of the rest, and the body is streamed.
pub(crate) async fn buffer(mut body: ProxyBody, limit: u64) -> Result<RequestBody, BoxError> {
    if body.is_end_stream() {
        return Ok(RequestBody::Buffered(Bytes::new()));
    }
    if body.size_hint().lower() > limit {
        return Ok(RequestBody::Streamed(Some(body)));
    }
    let mut frames = VecDeque::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let is_data = frame.is_data();
        if let Some(data) = frame.data_ref() {
            len += data.len() as u64;
        }
        frames.push_back(frame);
        if !is_data || len > limit {
            let rest = Prefixed { frames, rest: body };
            return Ok(RequestBody::Streamed(Some(boxed(rest))));
        }
    }
    let mut whole = bytes::BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
    for frame in frames {
        if let Ok(data) = frame.into_data() {
            whole.extend_from_slice(&data);
        }
    }
    Ok(RequestBody::Buffered(whole.freeze()))
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
