//! The structured access log (one JSON line per request, written off the request path) and the
//! per-request glue that also ends the request's server span.

mod line;
mod writer;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use gatehouse_config::Config;
use gatehouse_config::model::PluginConfig;
use gatehouse_metrics::Registry;
use gatehouse_plugins::{LogRecord, RequestContext};
use http::{Version, header};

use crate::snapshot::Snapshot;
use crate::trace::RequestFacts;
pub(crate) use line::{IP_MAX, ip_text, redact_query};
use writer::Writer;

/// The access log of one snapshot: what to log and the writer (shared with the previous snapshot
/// while destination and buffer are unchanged).
pub(crate) struct AccessLog {
    writer: Option<Arc<Writer>>,
    sample: f64,
    query: bool,
    redact: Vec<String>,
    disabled: HashSet<String>,
}

impl AccessLog {
    /// The access log for `config`.
    pub(crate) fn build(
        config: &Config,
        previous: Option<&AccessLog>,
        registry: &Registry,
    ) -> AccessLog {
        let settings = &config.observability.access_log;
        let writer = settings.enabled.then(|| {
            let key = (settings.destination.clone(), settings.buffer);
            previous
                .and_then(|p| p.writer.clone())
                .filter(|w| w.key == key)
                .unwrap_or_else(|| {
                    Arc::new(Writer::start(
                        &settings.destination,
                        settings.buffer,
                        registry,
                    ))
                })
        });
        let mut redact: Vec<String> = settings
            .redact_query
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect();
        let specs = config
            .plugins
            .iter()
            .chain(config.routes.iter().flat_map(|r| &r.plugins));
        for spec in specs {
            if let PluginConfig::KeyAuth(k) = &spec.config
                && let Some(param) = &k.query_param
            {
                redact.push(param.to_ascii_lowercase());
            }
        }
        AccessLog {
            writer,
            sample: settings.sample,
            query: settings.query,
            redact,
            disabled: settings.disabled_routes.iter().cloned().collect(),
        }
    }

    /// Reopens the log file (SIGUSR1, after logrotate).
    pub(crate) fn reopen(&self) {
        if let Some(w) = &self.writer {
            w.reopen();
        }
    }

    fn log(&self, cx: &RequestContext, record: &LogRecord, facts: &RequestFacts, bytes_out: u64) {
        let Some(writer) = &self.writer else { return };
        if cx
            .route
            .as_deref()
            .is_some_and(|r| self.disabled.contains(r))
        {
            return;
        }
        if self.sample < 1.0 && rand::random::<f64>() >= self.sample {
            return;
        }
        let query = facts
            .query
            .as_deref()
            .filter(|_| self.query)
            .map(|q| redact_query(q, &self.redact));
        let line = line::Line {
            cx,
            record,
            facts,
            query,
            bytes_out,
            cache: facts.cache.as_deref(),
        };
        // Rendered into a reused per-thread buffer, then copied into the writer's batch: no
        // allocation per line, and nothing allocated here is freed on the writer thread.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            line.render_into(buf);
            writer.write(buf);
        });
    }
}

impl Snapshot {
    /// Reopens the access log file, if one is configured (for logrotate: send SIGUSR1 after the
    /// file was moved away).
    pub fn reopen_access_log(&self) {
        self.access_log.reopen();
    }
}

/// What a request's end needs for its server span and log line.
pub(crate) struct Observed {
    snapshot: Arc<Snapshot>,
    facts: RequestFacts,
    bytes_out: u64,
}

impl Observed {
    /// Sets the request's trace context and keeps what the log line and span need of the head.
    pub(crate) fn begin(
        snapshot: &Arc<Snapshot>,
        cx: &mut RequestContext,
        parts: &http::request::Parts,
    ) -> Observed {
        snapshot.tracer.begin(cx, &parts.headers);
        let started = SystemTime::now() - cx.started.elapsed();
        if snapshot.access_log.writer.is_none() && !snapshot.tracer.records(&cx.trace) {
            // Neither a log line nor a span will be made: keep nothing of the head.
            return Observed {
                snapshot: snapshot.clone(),
                facts: RequestFacts {
                    started,
                    host: None,
                    user_agent: None,
                    protocol: "1.1",
                    query: None,
                    content_length: None,
                    cache: None,
                },
                bytes_out: 0,
            };
        }
        let text = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let host = parts
            .uri
            .host()
            .map(str::to_owned)
            .or_else(|| text(header::HOST).map(|h| gatehouse_router::host_of(&h).into_owned()));
        let facts = RequestFacts {
            started,
            host,
            user_agent: text(header::USER_AGENT),
            protocol: match parts.version {
                Version::HTTP_10 => "1.0",
                Version::HTTP_2 => "2",
                Version::HTTP_3 => "3",
                _ => "1.1",
            },
            query: parts.uri.query().map(str::to_owned),
            content_length: text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
            cache: None,
        };
        Observed {
            snapshot: snapshot.clone(),
            facts,
            bytes_out: 0,
        }
    }

    /// Keeps the response's cache status (`X-Cache`).
    pub(crate) fn respond(mut self, head: &http::HeaderMap) -> Observed {
        self.facts.cache = head
            .get("x-cache")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self
    }

    /// Counts response body bytes sent.
    pub(crate) fn data(&mut self, len: usize) {
        self.bytes_out += len as u64;
    }

    /// Ends the server span and writes the log line.
    pub(crate) fn finish(&mut self, cx: &RequestContext, record: &LogRecord) {
        let s = &self.snapshot;
        s.tracer.end_request(cx, record, &self.facts);
        s.access_log.log(cx, record, &self.facts, self.bytes_out);
    }
}

#[cfg(test)]
mod tests;
