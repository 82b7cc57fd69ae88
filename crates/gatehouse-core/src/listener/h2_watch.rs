//! HTTP/2 control-frame flood watch (`limits.http2_control_frame_budget`).
//!
//! hyper and h2 answer every PING and SETTINGS frame and accept any number of resets and empty
//! frames, so a client can keep a connection busy without ever sending a request (CVE-2019-9512,
//! -9514, -9515, -9518, CVE-2023-44487). [`Watcher`] follows the frame headers in the raw bytes a
//! client sends — the 24-byte preface, then 9-byte frame headers, skipping payloads — and counts
//! the frames that carry no request: non-ACK PING and SETTINGS, RST_STREAM, and empty DATA or
//! CONTINUATION frames that end nothing. More than the budget in a [`WINDOW`] means a flood:
//! [`H2Guard`] then fails the read, before hyper sees those bytes, and the connection is closed
//! (no GOAWAY: writing one ourselves could interleave with hyper's own output).
//!
//! Like the HTTP/1 framing scanner it keeps a few bytes of state, never buffers and never
//! allocates; a connection that does not open with the preface is not watched.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};

use crate::metrics::{ListenerMetrics, Refusal};

/// The window over which the budget is counted (a fixed window, restarted by the first counted
/// frame after it ends).
pub const WINDOW: Duration = Duration::from_secs(10);

/// The HTTP/2 client connection preface.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const CONTINUATION: u8 = 0x9;
/// ACK on SETTINGS and PING, END_STREAM on DATA.
const FLAG_ACK_OR_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;

/// What the watcher has concluded about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Following the frames (or still reading the preface); within the budget.
    Watching,
    /// The connection did not open with the HTTP/2 preface; nothing more is watched.
    NotHttp2,
    /// More frames without a request than the budget allows in a window.
    Flood,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// This many bytes of the preface matched so far.
    Preface(u8),
    /// Reading a frame header: the bytes so far.
    Header { buf: [u8; 9], len: u8 },
    /// Skipping this many payload bytes.
    Payload(u32),
    /// Concluded for good.
    Done(Status),
}

/// An incremental HTTP/2 frame-header watcher; feed it every byte a client sends, in order.
///
/// Splitting the stream differently never changes the outcome (given the same clock).
#[derive(Debug, Clone)]
pub struct Watcher {
    phase: Phase,
    budget: u32,
    counted: u32,
    window_start: Option<Instant>,
}

impl Watcher {
    /// A watcher at the start of a connection allowing `budget` counted frames per [`WINDOW`].
    pub fn new(budget: u32) -> Self {
        Watcher {
            phase: Phase::Preface(0),
            budget,
            counted: 0,
            window_start: None,
        }
    }

    /// The conclusion so far.
    pub fn status(&self) -> Status {
        match self.phase {
            Phase::Done(status) => status,
            _ => Status::Watching,
        }
    }

    /// Watches the next bytes of the stream, received at `now`; returns the status after them.
    pub fn feed(&mut self, mut bytes: &[u8], now: Instant) -> Status {
        while !bytes.is_empty() {
            match &mut self.phase {
                Phase::Done(status) => return *status,
                Phase::Preface(n) => {
                    let matched = usize::from(*n);
                    let want = PREFACE.get(matched..).unwrap_or_default();
                    let take = want.len().min(bytes.len());
                    if bytes.get(..take) != want.get(..take) {
                        self.phase = Phase::Done(Status::NotHttp2);
                        return Status::NotHttp2;
                    }
                    bytes = bytes.get(take..).unwrap_or_default();
                    self.phase = if matched + take == PREFACE.len() {
                        new_header()
                    } else {
                        Phase::Preface((matched + take) as u8)
                    };
                }
                Phase::Header { buf, len } => {
                    let have = usize::from(*len);
                    let take = (buf.len() - have).min(bytes.len());
                    if let (Some(slot), Some(src)) =
                        (buf.get_mut(have..have + take), bytes.get(..take))
                    {
                        slot.copy_from_slice(src);
                    }
                    bytes = bytes.get(take..).unwrap_or_default();
                    *len += take as u8;
                    if usize::from(*len) == buf.len() {
                        let header = *buf;
                        self.frame(header, now);
                    }
                }
                Phase::Payload(left) => {
                    let skip = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    *left -= skip as u32;
                    bytes = bytes.get(skip..).unwrap_or_default();
                    if *left == 0 {
                        self.phase = new_header();
                    }
                }
            }
        }
        self.status()
    }

    /// A complete frame header: count the frame if it carries no request, then skip its payload.
    fn frame(&mut self, header: [u8; 9], now: Instant) {
        let [l0, l1, l2, kind, flags, ..] = header;
        let length = u32::from_be_bytes([0, l0, l1, l2]);
        let counted = match kind {
            PING | SETTINGS => flags & FLAG_ACK_OR_END_STREAM == 0,
            RST_STREAM => true,
            DATA => length == 0 && flags & FLAG_ACK_OR_END_STREAM == 0,
            CONTINUATION => length == 0 && flags & FLAG_END_HEADERS == 0,
            _ => false,
        };
        self.phase = if counted && !self.count(now) {
            Phase::Done(Status::Flood)
        } else if length == 0 {
            new_header()
        } else {
            Phase::Payload(length)
        };
    }

    /// Counts one frame at `now`; false once the window's budget is exceeded.
    fn count(&mut self, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < WINDOW => {}
            _ => {
                self.window_start = Some(now);
                self.counted = 0;
            }
        }
        self.counted = self.counted.saturating_add(1);
        self.counted <= self.budget
    }
}

fn new_header() -> Phase {
    Phase::Header {
        buf: [0; 9],
        len: 0,
    }
}

pin_project_lite::pin_project! {
    /// A client connection whose incoming bytes pass through a [`Watcher`]; on a flood, reads
    /// fail (and keep failing), which ends the connection.
    pub(crate) struct H2Guard<I> {
        #[pin]
        io: I,
        watcher: Option<Watcher>,
        metrics: Arc<ListenerMetrics>,
    }
}

impl<I> H2Guard<I> {
    /// Wraps `io` with a budget of `budget` frames per [`WINDOW`] (0 = not watched); a flood is
    /// counted in `metrics`.
    pub(crate) fn new(io: I, budget: u32, metrics: Arc<ListenerMetrics>) -> Self {
        H2Guard {
            io,
            watcher: (budget > 0).then(|| Watcher::new(budget)),
            metrics,
        }
    }
}

fn flood_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "HTTP/2 control frame flood",
    )
}

impl<I: AsyncRead> AsyncRead for H2Guard<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let Some(watcher) = this.watcher.as_mut() else {
            return this.io.poll_read(cx, buf);
        };
        match watcher.status() {
            Status::Flood => return Poll::Ready(Err(flood_error())),
            Status::NotHttp2 => {
                *this.watcher = None;
                return this.io.poll_read(cx, buf);
            }
            Status::Watching => {}
        }
        let before = buf.filled().len();
        let result = this.io.poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && let Some(new) = buf.filled().get(before..)
            && !new.is_empty()
        {
            let now = tokio::time::Instant::now().into_std();
            if watcher.feed(new, now) == Status::Flood {
                this.metrics.refused(Refusal::Http2FrameFlood);
                tracing::debug!("HTTP/2 control frame flood: closing the connection");
                // Hide the flood's bytes from hyper.
                buf.set_filled(before);
                return Poll::Ready(Err(flood_error()));
            }
        }
        result
    }
}

write_through!(H2Guard);

#[cfg(test)]
mod tests;
