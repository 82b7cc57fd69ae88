//! One access log line: the JSON object, query redaction and the RFC 3339 timestamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatehouse_plugins::{LogRecord, RequestContext};
use serde_json::{Value, json};

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
    /// The JSON text of the line (one line, no newline).
    pub(crate) fn render(&self) -> String {
        let Line {
            cx,
            record: r,
            facts,
            ..
        } = self;
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let identity = cx.identity.as_ref();
        let value = json!({
            "timestamp": rfc3339(facts.started),
            "request_id": cx.request_id,
            "trace_id": cx.trace.trace_id_hex(),
            "span_id": cx.trace.span_id_hex(),
            "client_ip": cx.client_ip.to_string(),
            "method": r.method.as_str(),
            "host": facts.host,
            "path": r.path,
            "query": self.query,
            "protocol": format!("HTTP/{}", facts.protocol),
            "status": r.status.as_u16(),
            "latency_ms": ms(r.latency),
            "upstream_latency_ms": r.upstream_latency.map(ms),
            "upstream": r.upstream_target,
            "route": cx.route.as_deref(),
            "consumer": identity.and_then(|i| i.consumer_id.as_deref()),
            "user": identity.and_then(|i| i.subject.as_deref()),
            "bytes_in": facts.content_length,
            "bytes_out": self.bytes_out,
            "user_agent": facts.user_agent,
            "retries": cx.retries,
            "cache": self.cache,
            "short_circuit": cx.short_circuit,
        });
        match value {
            Value::Object(_) => value.to_string(),
            _ => String::new(),
        }
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

/// `2026-11-22T14:06:26.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
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
