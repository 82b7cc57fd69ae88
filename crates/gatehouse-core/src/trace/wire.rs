//! Spans encoded on the request path as OTLP protobuf `Span` messages, straight from borrowed
//! values into one buffer per span (no message structs, no owned keys); the exporter only
//! concatenates them into an `ExportTraceServiceRequest`. Field numbers are those of
//! `opentelemetry/proto/trace/v1/trace.proto` (see [`super::otlp`]); fields with their default
//! value are left out, as protobuf encoders do.

use gatehouse_plugins::TraceContext;

/// Wire type of varints.
const VARINT: u32 = 0;
/// Wire type of fixed 64-bit values.
const FIXED64: u32 = 1;
/// Wire type of length-delimited values (bytes, strings, messages).
const LEN: u32 = 2;
/// Wire type of fixed 32-bit values.
const FIXED32: u32 = 5;

/// The encoded fields of one `Span` message (without its own tag and length).
pub(crate) struct EncodedSpan(pub(crate) Vec<u8>);

/// Writes one span: the head at [`SpanWriter::new`], then attributes, then [`SpanWriter::finish`].
pub(crate) struct SpanWriter(Vec<u8>);

/// The identity and timing of a span.
pub(crate) struct SpanHead<'a> {
    pub(crate) trace: &'a TraceContext,
    pub(crate) span_id: [u8; 8],
    pub(crate) parent: Option<[u8; 8]>,
    /// Pieces of the span name, joined by one space.
    pub(crate) name: &'a [&'a str],
    pub(crate) kind: i32,
    /// Start and end, Unix nanoseconds.
    pub(crate) times: (u64, u64),
}

impl SpanWriter {
    /// Starts a span with its ids, name, kind and times.
    pub(crate) fn new(head: &SpanHead<'_>) -> SpanWriter {
        let mut w = SpanWriter(Vec::with_capacity(512));
        let b = &mut w.0;
        bytes(b, 1, &head.trace.trace_id);
        bytes(b, 2, &head.span_id);
        bytes(
            b,
            3,
            head.trace.tracestate.as_deref().unwrap_or("").as_bytes(),
        );
        if let Some(parent) = &head.parent {
            bytes(b, 4, parent);
        }
        let pieces = head.name.iter().filter(|p| !p.is_empty());
        let len = pieces.clone().map(|p| p.len() + 1).sum::<usize>();
        if len > 0 {
            key(b, 5, LEN);
            varint(b, (len - 1) as u64);
            for (i, piece) in pieces.enumerate() {
                if i > 0 {
                    b.push(b' ');
                }
                b.extend_from_slice(piece.as_bytes());
            }
        }
        if head.kind != 0 {
            key(b, 6, VARINT);
            varint(b, head.kind as u64);
        }
        let (start, end) = head.times;
        for (tag, t) in [(7, start), (8, end)] {
            if t != 0 {
                key(b, tag, FIXED64);
                b.extend_from_slice(&t.to_le_bytes());
            }
        }
        w
    }

    /// A string attribute.
    pub(crate) fn str(&mut self, name: &str, value: &str) {
        let any = 1 + varint_len(value.len() as u64) + value.len();
        self.attribute_head(name, any);
        key(&mut self.0, 1, LEN);
        varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value.as_bytes());
    }

    /// An integer attribute.
    pub(crate) fn int(&mut self, name: &str, value: i64) {
        let any = 1 + varint_len(value as u64);
        self.attribute_head(name, any);
        key(&mut self.0, 3, VARINT);
        varint(&mut self.0, value as u64);
    }

    /// Tag and length of a `KeyValue` whose `AnyValue` is `any` bytes long, and its key.
    fn attribute_head(&mut self, name: &str, any: usize) {
        let name_len = name.len() as u64;
        let kv = 1 + varint_len(name_len) + name.len() + 1 + varint_len(any as u64) + any;
        let b = &mut self.0;
        key(b, 9, LEN);
        varint(b, kv as u64);
        bytes(b, 1, name.as_bytes());
        key(b, 2, LEN);
        varint(b, any as u64);
    }

    /// Ends the span: `STATUS_CODE_ERROR` when `error`, and the W3C trace flags.
    pub(crate) fn finish(mut self, error: bool, flags: u32) -> EncodedSpan {
        let b = &mut self.0;
        if error {
            // Status { code (3) = STATUS_CODE_ERROR (2) }.
            key(b, 15, LEN);
            b.extend_from_slice(&[2, 3 << 3, 2]);
        }
        if flags != 0 {
            key(b, 16, FIXED32);
            b.extend_from_slice(&flags.to_le_bytes());
        }
        EncodedSpan(self.0)
    }
}

/// A length-delimited field, left out when empty.
pub(crate) fn bytes(b: &mut Vec<u8>, tag: u32, value: &[u8]) {
    if value.is_empty() {
        return;
    }
    key(b, tag, LEN);
    varint(b, value.len() as u64);
    b.extend_from_slice(value);
}

/// A field key.
pub(crate) fn key(b: &mut Vec<u8>, tag: u32, wire_type: u32) {
    varint(b, u64::from((tag << 3) | wire_type));
}

/// A base-128 varint.
pub(crate) fn varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// How many bytes [`varint`] writes for `v`.
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}
