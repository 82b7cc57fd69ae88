//! `gatehouse top`: a terminal view of live per-route rates and latencies, read from the admin
//! API's `/status` summaries.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// Connect, read and write timeout of one `/status` request.
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// What `gatehouse top` shows and how often.
pub struct TopOptions {
    /// The admin listener.
    pub admin: SocketAddr,
    /// Bearer token for the admin API, when it requires one.
    pub token: Option<String>,
    /// Time between two samples (rates are computed over it).
    pub interval: Duration,
    /// Print one view (two samples `interval` apart) and exit.
    pub once: bool,
}

/// Runs the view until interrupted (or once).
pub fn run(opts: &TopOptions) -> anyhow::Result<()> {
    let mut previous = (Instant::now(), fetch(opts)?);
    loop {
        std::thread::sleep(opts.interval);
        let current = (Instant::now(), fetch(opts)?);
        let elapsed = current.0.duration_since(previous.0).as_secs_f64();
        let view = render(opts.admin, &previous.1, &current.1, elapsed);
        let mut out = std::io::stdout().lock();
        if !opts.once {
            // Clear the screen and go home.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{view}")?;
        out.flush()?;
        if opts.once {
            return Ok(());
        }
        previous = current;
    }
}

/// `GET /status` over a plain HTTP/1.0 connection.
fn fetch(opts: &TopOptions) -> anyhow::Result<Value> {
    let mut stream = TcpStream::connect_timeout(&opts.admin, IO_TIMEOUT)
        .with_context(|| format!("cannot reach the admin API at {}", opts.admin))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let auth = opts
        .token
        .as_deref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /status HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\n{auth}\r\n",
        opts.admin
    )?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .context("reading /status")?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response from the admin API")?;
    let status_line = head.lines().next().unwrap_or("");
    if !status_line.contains(" 200") {
        bail!("admin API answered {status_line:?} (is --token needed?)");
    }
    serde_json::from_str(body).context("/status is not JSON")
}

/// The view: routes with their request rate over the last interval, totals, 5xx and latency
/// quantiles since start; then upstreams with healthy targets and requests in flight.
fn render(admin: SocketAddr, before: &Value, now: &Value, elapsed: f64) -> String {
    let mut out = format!(
        "gatehouse top — {admin} — config v{} — up {}s\n\n",
        now["config"]["version"], now["uptime_seconds"]
    );
    out += &format!(
        "{:<24} {:<16} {:>9} {:>10} {:>7} {:>9} {:>9} {:>9}\n",
        "ROUTE", "CLUSTER", "REQ/S", "REQUESTS", "5XX", "P50 ms", "P95 ms", "P99 ms"
    );
    let empty = Vec::new();
    let routes = now["summary"]["routes"].as_array().unwrap_or(&empty);
    let old_routes = before["summary"]["routes"].as_array().unwrap_or(&empty);
    for r in routes {
        let total = r["requests"].as_u64().unwrap_or(0);
        let old = old_routes
            .iter()
            .find(|o| o["route"] == r["route"])
            .and_then(|o| o["requests"].as_u64())
            .unwrap_or(0);
        let rate = if elapsed > 0.0 {
            total.saturating_sub(old) as f64 / elapsed
        } else {
            0.0
        };
        let ms = |k: &str| {
            r[k].as_f64()
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
        };
        out += &format!(
            "{:<24} {:<16} {:>9.1} {:>10} {:>7} {:>9} {:>9} {:>9}\n",
            r["route"].as_str().unwrap_or("?"),
            r["cluster"].as_str().unwrap_or("?"),
            rate,
            total,
            r["errors_5xx"].as_u64().unwrap_or(0),
            ms("p50_ms"),
            ms("p95_ms"),
            ms("p99_ms"),
        );
    }
    out += &format!(
        "\n{:<24} {:>8} {:>8} {:>10}\n",
        "UPSTREAM", "TARGETS", "HEALTHY", "IN FLIGHT"
    );
    for u in now["summary"]["upstreams"].as_array().unwrap_or(&empty) {
        out += &format!(
            "{:<24} {:>8} {:>8} {:>10}\n",
            u["upstream"].as_str().unwrap_or("?"),
            // `Value`'s Display ignores widths: render to strings first.
            u["targets"].to_string(),
            u["healthy"].to_string(),
            u["in_flight"].to_string()
        );
    }
    out
}

/// Parses `250ms`, `2s` or a plain number of seconds.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid interval {s:?} (e.g. 500ms, 2s)");
    let d = if let Some(ms) = s.strip_suffix("ms") {
        Duration::from_millis(ms.trim().parse().map_err(|_| bad())?)
    } else {
        let secs: f64 = s.trim_end_matches('s').trim().parse().map_err(|_| bad())?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(bad());
        }
        Duration::from_secs_f64(secs)
    };
    if d < Duration::from_millis(10) {
        return Err(format!("interval {s:?} is below 10ms"));
    }
    Ok(d)
}
