//! HTTP/1 request framing watch. hyper drops `Content-Length` when `Transfer-Encoding` is present,
//! so the handler never sees both; [`Scanner`] follows each request's framing (heads, sized and
//! chunked bodies, trailers) in the raw bytes a client sends and reports a head with both headers.
//! It keeps a few bytes of state and never buffers, mirrors what hyper accepts, stops where hyper
//! would refuse the bytes anyway (leaving the refusal to hyper), and ignores HTTP/2 connections.

/// The start of the HTTP/2 connection preface; a connection opening with it is not scanned.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";
/// The longest header name the scanner needs to recognise (`transfer-encoding`).
const NAME_CAP: usize = 17;

/// What the scanner has concluded so far about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Following the framing; nothing wrong seen.
    Scanning,
    /// A request head carried both `Content-Length` and `Transfer-Encoding`; scanning stopped.
    Conflict,
    /// Bytes hyper itself refuses (an invalid length or chunk); scanning stopped, hyper answers.
    Unparsable,
    /// The connection speaks HTTP/2 (it opened with the preface); nothing is scanned.
    Http2,
    /// Scanning was stopped from outside (the connection was upgraded to another protocol).
    Stopped,
}

/// Which header the current head line is, once its name is known.
#[derive(Debug, Clone, Copy)]
enum Line {
    /// Reading the name: up to [`NAME_CAP`] lowercased bytes, `len > NAME_CAP` once too long.
    Name { buf: [u8; NAME_CAP], len: u8 },
    /// A `Content-Length` value: the number so far, whether digits ended, whether it is invalid.
    Length {
        value: u64,
        digits: bool,
        ended: bool,
        bad: bool,
    },
    /// A `Transfer-Encoding` value: progress through `chunked` in the current token.
    Encoding { pos: u8, ended: bool, bad: bool },
    /// Any other line: skipped to its end.
    Other,
}

/// Where the scanner stands in a chunked body: the size line (first digit, more digits, whitespace,
/// extension, LF), the CRLF after chunk data, then after the last chunk the trailer lines and the
/// final empty line, exactly as hyper's decoder reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Start,
    Size,
    SizeLws,
    Extension,
    SizeLf,
    DataCr,
    DataLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

/// The scanner's position in the byte stream.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Matching the HTTP/2 preface: this many bytes matched so far.
    Preface(u8),
    /// Before or inside a request line (`started` once a non-empty line began).
    RequestLine { started: bool },
    /// Inside the header lines; `empty` while the current line has only had CRs.
    Header { line: Line, empty: bool },
    /// Skipping this many bytes of a `Content-Length` body.
    Body(u64),
    /// Inside a chunked body; `size` is the chunk size read so far or the data left to skip.
    Chunked { state: Chunk, size: u64 },
    /// Finished for good; see [`Scanner::status`].
    Done(Status),
}

/// What the current request head declared about its framing.
#[derive(Debug, Clone, Copy, Default)]
struct Head {
    length: Option<u64>,
    length_seen: bool,
    length_bad: bool,
    encoding_seen: bool,
    chunked: bool,
}

/// An incremental HTTP/1 request framing scanner; feed it every byte a client sends, in order.
///
/// Splitting the stream differently never changes the outcome. It never panics and never
/// allocates.
#[derive(Debug, Clone)]
pub struct Scanner {
    phase: Phase,
    head: Head,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// A scanner at the start of a connection.
    pub fn new() -> Self {
        Scanner {
            phase: Phase::Preface(0),
            head: Head::default(),
        }
    }

    /// The conclusion so far.
    pub fn status(&self) -> Status {
        match self.phase {
            Phase::Done(status) => status,
            _ => Status::Scanning,
        }
    }

    /// Stops scanning for good (the connection switched protocols); the status becomes
    /// [`Status::Stopped`] unless the scanner had already concluded.
    pub fn stop(&mut self) {
        if !matches!(self.phase, Phase::Done(_)) {
            self.phase = Phase::Done(Status::Stopped);
        }
    }

    /// Scans the next bytes of the stream and returns the status after them.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Status {
        while let Some((&b, rest)) = bytes.split_first() {
            match &mut self.phase {
                Phase::Done(status) => return *status,
                Phase::Body(left) => {
                    let skip = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    *left -= skip as u64;
                    if *left == 0 {
                        self.phase = Phase::RequestLine { started: false };
                    }
                    bytes = &bytes[skip..];
                    continue;
                }
                Phase::Chunked {
                    state: Chunk::DataCr,
                    size,
                } if *size > 0 => {
                    let skip = usize::try_from(*size)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    *size -= skip as u64;
                    bytes = &bytes[skip..];
                    continue;
                }
                Phase::Header {
                    line: Line::Other, ..
                } => {
                    // Skip straight to the end of a line the scanner does not care about.
                    let Some(at) = bytes.iter().position(|&c| c == b'\n') else {
                        return Status::Scanning;
                    };
                    self.step(b'\n');
                    bytes = bytes.get(at + 1..).unwrap_or_default();
                    continue;
                }
                _ => {}
            }
            self.step(b);
            bytes = rest;
        }
        self.status()
    }

    /// Advances over one byte (never inside a body being skipped in bulk).
    fn step(&mut self, b: u8) {
        self.phase = match self.phase {
            Phase::Preface(n) => {
                let n = usize::from(n);
                if H2_PREFACE.get(n) == Some(&b) {
                    if n + 1 == H2_PREFACE.len() {
                        Phase::Done(Status::Http2)
                    } else {
                        Phase::Preface(n as u8 + 1)
                    }
                } else {
                    // Not HTTP/2: replay the matched bytes (all part of a request line) as HTTP/1.
                    self.phase = Phase::RequestLine { started: false };
                    for &c in H2_PREFACE.get(..n).unwrap_or_default() {
                        self.step(c);
                    }
                    self.step(b);
                    return;
                }
            }
            // httparse skips empty lines before a request line.
            Phase::RequestLine { started } => match b {
                b'\n' if started => {
                    self.head = Head::default();
                    Phase::Header {
                        line: new_line(),
                        empty: true,
                    }
                }
                b'\r' | b'\n' => Phase::RequestLine { started },
                _ => Phase::RequestLine { started: true },
            },
            Phase::Header { line, empty } => self.header_byte(line, empty, b),
            Phase::Chunked { state, size } => chunk_byte(state, size, b),
            phase @ (Phase::Body(_) | Phase::Done(_)) => phase,
        };
    }

    fn header_byte(&mut self, mut line: Line, empty: bool, b: u8) -> Phase {
        if b == b'\n' {
            if empty {
                return self.end_of_head();
            }
            self.end_of_line(line);
            return Phase::Header {
                line: new_line(),
                empty: true,
            };
        }
        let empty = empty && b == b'\r';
        match &mut line {
            Line::Name { buf, len } => match b {
                b':' => line = name_kind(buf.get(..usize::from(*len))),
                // Whitespace around a name makes httparse refuse the head; ignoring it here only
                // makes the scanner more suspicious, never less.
                b' ' | b'\t' | b'\r' => {}
                _ => match buf.get_mut(usize::from(*len)) {
                    Some(slot) => {
                        *slot = b.to_ascii_lowercase();
                        *len += 1;
                    }
                    None => line = Line::Other,
                },
            },
            Line::Length {
                value,
                digits,
                ended,
                bad,
            } => match b {
                b'0'..=b'9' if !*ended => {
                    match value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    {
                        Some(v) => (*value, *digits) = (v, true),
                        None => *bad = true,
                    }
                }
                b' ' | b'\t' | b'\r' => *ended = *digits,
                _ => *bad = true,
            },
            Line::Encoding { pos, ended, bad } => match b {
                b',' => (*pos, *ended, *bad) = (0, false, false),
                b' ' | b'\t' | b'\r' => *ended = *pos > 0,
                _ => match b"chunked".get(usize::from(*pos)) {
                    Some(&c) if !*ended && c == b.to_ascii_lowercase() => *pos += 1,
                    _ => *bad = true,
                },
            },
            Line::Other => {}
        }
        Phase::Header { line, empty }
    }

    fn end_of_line(&mut self, line: Line) {
        match line {
            Line::Length {
                value, digits, bad, ..
            } => {
                let head = &mut self.head;
                head.length_seen = true;
                if bad || !digits || head.length.is_some_and(|prev| prev != value) {
                    head.length_bad = true;
                }
                head.length = Some(value);
            }
            Line::Encoding { pos, bad, .. } => {
                // Like hyper: the last token of the last `Transfer-Encoding` line decides.
                self.head.encoding_seen = true;
                self.head.chunked = !bad && usize::from(pos) == b"chunked".len();
            }
            Line::Name { .. } | Line::Other => {}
        }
    }

    fn end_of_head(&mut self) -> Phase {
        let head = self.head;
        if head.length_seen && head.encoding_seen {
            Phase::Done(Status::Conflict)
        } else if head.encoding_seen {
            if head.chunked {
                Phase::Chunked {
                    state: Chunk::Start,
                    size: 0,
                }
            } else {
                Phase::Done(Status::Unparsable)
            }
        } else if head.length_bad {
            Phase::Done(Status::Unparsable)
        } else {
            match head.length {
                Some(n) if n > 0 => Phase::Body(n),
                _ => Phase::RequestLine { started: false },
            }
        }
    }
}

/// What a header line is, from its (lowercased) name.
fn name_kind(name: Option<&[u8]>) -> Line {
    match name {
        Some(b"content-length") => Line::Length {
            value: 0,
            digits: false,
            ended: false,
            bad: false,
        },
        Some(b"transfer-encoding") => Line::Encoding {
            pos: 0,
            ended: false,
            bad: false,
        },
        _ => Line::Other,
    }
}

fn new_line() -> Line {
    Line::Name {
        buf: [0; NAME_CAP],
        len: 0,
    }
}

/// One byte of a chunked body's framing, exactly as hyper's decoder accepts it.
fn chunk_byte(state: Chunk, size: u64, b: u8) -> Phase {
    let next = |state| Phase::Chunked { state, size };
    let unparsable = Phase::Done(Status::Unparsable);
    match state {
        Chunk::Start | Chunk::Size => match (b as char).to_digit(16) {
            Some(d) => match size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(d)))
            {
                Some(size) => Phase::Chunked {
                    state: Chunk::Size,
                    size,
                },
                None => unparsable,
            },
            None if state == Chunk::Start => unparsable,
            None => match b {
                b' ' | b'\t' => next(Chunk::SizeLws),
                b';' => next(Chunk::Extension),
                b'\r' => next(Chunk::SizeLf),
                _ => unparsable,
            },
        },
        Chunk::SizeLws => match b {
            b' ' | b'\t' => next(Chunk::SizeLws),
            b';' => next(Chunk::Extension),
            b'\r' => next(Chunk::SizeLf),
            _ => unparsable,
        },
        Chunk::Extension => match b {
            b'\r' => next(Chunk::SizeLf),
            b'\n' => unparsable,
            _ => next(Chunk::Extension),
        },
        Chunk::SizeLf if b == b'\n' && size == 0 => next(Chunk::EndCr),
        // The data itself is skipped in bulk by `feed` while `size > 0` in `DataCr`.
        Chunk::SizeLf if b == b'\n' => next(Chunk::DataCr),
        Chunk::DataCr if b == b'\r' => next(Chunk::DataLf),
        Chunk::DataLf if b == b'\n' => next(Chunk::Start),
        Chunk::EndCr if b == b'\r' => next(Chunk::EndLf),
        Chunk::EndCr | Chunk::Trailer if b != b'\r' => next(Chunk::Trailer),
        Chunk::Trailer => next(Chunk::TrailerLf),
        Chunk::TrailerLf if b == b'\n' => next(Chunk::EndCr),
        Chunk::EndLf if b == b'\n' => Phase::RequestLine { started: false },
        Chunk::SizeLf | Chunk::DataCr | Chunk::DataLf | Chunk::TrailerLf | Chunk::EndLf => {
            unparsable
        }
        Chunk::EndCr => unparsable,
    }
}

mod guard;

pub(crate) use guard::{Flags, FramingGuard};

#[cfg(test)]
mod tests;
