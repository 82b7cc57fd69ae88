//! One access log line: the JSON object, query redaction and the RFC 3339 timestamp.

use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_plugins::{LogRecord, RequestContext};

use crate::trace::RequestFacts;

/// What the line shows in place of a redacted query value.
pub(crate) const REDACTED: &str = "REDACTED";

/// Everything a line is made of.
pub(crate) struct Line<'a> {
    pub(crate) cx: &'a RequestContext,
    pub(crate) record: &'a LogRecord,
    pub(crate) facts: &'a RequestFacts,
    /// The query as logged (already redacted), when queries are logged.
    pub(crate) query: Option<String>,
    pub(crate) bytes_out: u64,
    pub(crate) cache: Option<&'a str>,
}

impl Line<'_> {
    /// Appends the JSON text of the line (one line, no newline) to `buf`: one object, keys in
    /// alphabetical order, written straight into the buffer (no intermediate JSON value).
    pub(crate) fn render_into(&self, buf: &mut Vec<u8>) {
        let Line {
            cx,
            record: r,
            facts,
            ..
        } = self;
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let identity = cx.identity.as_ref();
        let mut o = Obj::new(buf);
        // Counted as the body streamed to the upstream; requests answered before the upstream
        // call (their body unread) show the declared length.
        let read = cx.extensions.get::<crate::body::RequestBytes>();
        o.num("bytes_in", read.map(|b| b.get()).or(facts.content_length));
        o.num("bytes_out", Some(self.bytes_out));
        o.str("cache", self.cache);
        o.ip("client_ip", cx.client_ip);
        o.str("consumer", identity.and_then(|i| i.consumer_id.as_deref()));
        o.str("host", facts.host.as_deref());
        o.float("latency_ms", Some(ms(r.latency)));
        o.str("method", Some(r.method.as_str()));
        o.str("path", Some(r.path.as_str()));
        o.str("protocol", Some(protocol(facts.protocol)));
        o.str("query", self.query.as_deref());
        o.str("request_id", Some(cx.request_id.as_str()));
        o.num("retries", Some(u64::from(cx.retries)));
        o.str("route", cx.route.as_deref());
        o.str("short_circuit", cx.short_circuit);
        o.hex("span_id", &cx.trace.span_id);
        o.num("status", Some(u64::from(r.status.as_u16())));
        o.timestamp("timestamp", facts.started);
        o.hex("trace_id", &cx.trace.trace_id);
        o.str("upstream", r.upstream_target.as_deref());
        o.float("upstream_latency_ms", r.upstream_latency.map(ms));
        o.str("user", identity.and_then(|i| i.subject.as_deref()));
        o.str("user_agent", facts.user_agent.as_deref());
        o.finish();
    }
}

/// `HTTP/<version>` without formatting.
fn protocol(version: &str) -> &str {
    match version {
        "1.0" => "HTTP/1.0",
        "1.1" => "HTTP/1.1",
        "2" => "HTTP/2",
        "3" => "HTTP/3",
        _ => "HTTP",
    }
}

/// A JSON object written member by member into one buffer (appended to what it holds).
struct Obj<'b> {
    out: &'b mut Vec<u8>,
    first: bool,
}

impl Obj<'_> {
    fn new(out: &mut Vec<u8>) -> Obj<'_> {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    fn str(&mut self, key: &str, value: Option<&str>) {
        self.key(key);
        match value {
            Some(v) => {
                // Writing a `&str` into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut self.out, v);
            }
            None => self.null(),
        }
    }

    /// An IP address (nothing to escape), formatted without allocating.
    fn ip(&mut self, key: &str, ip: IpAddr) {
        self.key(key);
        self.out.push(b'"');
        let mut buf = [0u8; IP_MAX];
        self.out.extend_from_slice(ip_text(ip, &mut buf).as_bytes());
        self.out.push(b'"');
    }

    /// An RFC 3339 timestamp (see [`write_rfc3339`]).
    fn timestamp(&mut self, key: &str, t: SystemTime) {
        self.key(key);
        self.out.push(b'"');
        write_rfc3339(self.out, t);
        self.out.push(b'"');
    }

    /// Lower-case hex of an id, as in `traceparent`.
    fn hex(&mut self, key: &str, bytes: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.key(key);
        self.out.push(b'"');
        for b in bytes {
            self.out.push(DIGITS[usize::from(b >> 4)]);
            self.out.push(DIGITS[usize::from(b & 15)]);
        }
        self.out.push(b'"');
    }

    fn num(&mut self, key: &str, value: Option<u64>) {
        self.key(key);
        match value {
            Some(v) => write_u64(self.out, v),
            None => self.null(),
        }
    }

    fn float(&mut self, key: &str, value: Option<f64>) {
        self.key(key);
        match value {
            // Non-finite numbers are `null`, as in a JSON value.
            Some(v) if v.is_finite() => {
                let _ = serde_json::to_writer(&mut self.out, &v);
            }
            _ => self.null(),
        }
    }

    fn finish(self) {
        self.out.push(b'}');
    }
}

/// `query` with the values of parameters named in `redact` (lower-case; compared
/// case-insensitively after percent-decoding) replaced by [`REDACTED`].
pub(crate) fn redact_query(query: &str, redact: &[String]) -> String {
    query
        .split('&')
        .map(|pair| {
            let (name, value) = match pair.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (pair, None),
            };
            let decoded = percent_encoding::percent_decode_str(&name.replace('+', " "))
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            match value {
                Some(_) if redact.contains(&decoded) => format!("{name}={REDACTED}"),
                _ => pair.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The decimal digits of `v`, without the formatting machinery.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The longest text of an IP address (an IPv4-mapped IPv6 address).
pub(crate) const IP_MAX: usize = 45;

/// The usual text of `ip`, written into `buf` (no allocation).
pub(crate) fn ip_text(ip: IpAddr, buf: &mut [u8; IP_MAX]) -> &str {
    let len = match ip {
        IpAddr::V4(v4) => {
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    buf[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    buf[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + octet % 10;
                n += 1;
            }
            n
        }
        IpAddr::V6(v6) => {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(cursor, "{v6}");
            cursor.position() as usize
        }
    };
    // Only ASCII digits, dots, colons and hex letters were written.
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

/// `2026-11-22T14:06:26.123Z`.
#[cfg(test)]
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let mut out = Vec::new();
    write_rfc3339(&mut out, t);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `t` as `2026-11-22T14:06:26.123Z`. The text up to the seconds is computed once per
/// second and thread (kept in a thread-local), only the milliseconds per call.
fn write_rfc3339(out: &mut Vec<u8>, t: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            let (days, rem) = (secs / 86_400, secs % 86_400);
            let (y, m, day) = civil_from_days(days as i64);
            text.clear();
            use std::fmt::Write as _;
            let _ = write!(
                text,
                "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
                rem / 3600,
                rem / 60 % 60,
                rem % 60,
            );
            *cached = secs;
        }
        out.extend_from_slice(text.as_bytes());
    });
    let ms = d.subsec_millis();
    out.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
        b'Z',
    ]);
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; the well-known
/// era-based conversion).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
