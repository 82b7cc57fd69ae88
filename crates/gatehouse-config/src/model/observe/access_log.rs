//! `observability.access_log`: one JSON line per request.

use std::path::PathBuf;

/// Access log settings. Off unless `observability.access_log` is present.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLog {
    /// Whether lines are written. Default false without the section, true with it.
    pub enabled: bool,
    /// Where lines go. Default stdout.
    pub destination: LogDestination,
    /// Share of requests logged, 0.0–1.0. Default 1.0.
    pub sample: f64,
    /// Log the query string (with [`AccessLog::redact_query`] values replaced). Default false.
    pub query: bool,
    /// Query parameters whose values are shown as `REDACTED` (case-insensitive); `key_auth`'s
    /// `query_param` names are added at run time.
    pub redact_query: Vec<String>,
    /// Lines waiting for the writer at most; more are dropped and counted. Default 8192.
    pub buffer: usize,
    /// Routes with `access_log: false`.
    pub disabled_routes: Vec<String>,
}

impl Default for AccessLog {
    fn default() -> Self {
        AccessLog {
            enabled: false,
            destination: LogDestination::Stdout,
            sample: 1.0,
            query: false,
            redact_query: Vec::new(),
            buffer: 8192,
            disabled_routes: Vec::new(),
        }
    }
}

/// Where access log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A file, appended to and reopened on SIGUSR1.
    File(PathBuf),
}
