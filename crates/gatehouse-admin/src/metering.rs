//! Usage metering export: `GET /admin/usage` (JSON or CSV rows per hour, consumer, route and
//! status class) and `POST /admin/usage/flush`.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_store::usage::{HOUR, UsageQuery, UsageRow, class_label, hour_label, parse_hour};
use http::{StatusCode, header};
use serde_json::{Value, json};

use crate::AdminState;
use crate::routes::{json_response, problem};

/// Longest range one export may cover: 400 days of hours.
const MAX_HOURS: u64 = 400 * 24;

/// The export routes (behind the admin token like the others).
pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/admin/usage", get(export))
        .route("/admin/usage/flush", post(flush))
}

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Csv,
}

/// `from`, `to` (hours, end exclusive; default the last 24 hours up to the current one
/// included), `consumer`, `route`, `format`. Unknown or repeated parameters are refused.
pub(crate) fn parse_params(
    params: &[(String, String)],
    now_unix: u64,
) -> Result<(UsageQuery, Format), String> {
    let mut seen: Vec<&str> = Vec::new();
    let (mut from, mut to, mut consumer, mut route, mut format) = (None, None, None, None, None);
    for (name, value) in params {
        if seen.contains(&name.as_str()) {
            return Err(format!("parameter `{name}` is repeated"));
        }
        seen.push(name);
        let hour = || {
            parse_hour(value)
                .ok_or_else(|| format!("`{name}` must be an hour such as 2026-11-22T10 (UTC)"))
        };
        match name.as_str() {
            "from" => from = Some(hour()?),
            "to" => to = Some(hour()?),
            "consumer" => consumer = Some(value.clone()),
            "route" => route = Some(value.clone()),
            "format" => {
                format = Some(match value.as_str() {
                    "json" => Format::Json,
                    "csv" => Format::Csv,
                    _ => return Err("`format` must be `json` or `csv`".to_owned()),
                })
            }
            _ => {
                return Err(format!(
                    "unknown parameter `{name}` (known: from, to, consumer, route, format)"
                ));
            }
        }
    }
    let to = to.unwrap_or(now_unix / HOUR + 1);
    let from = from.unwrap_or(to.saturating_sub(24));
    if from >= to {
        return Err("`from` must be before `to` (`to` is exclusive)".to_owned());
    }
    if to - from > MAX_HOURS {
        return Err(format!("at most {MAX_HOURS} hours per export"));
    }
    let query = UsageQuery {
        from_hour: from,
        to_hour: to,
        consumer,
        route,
    };
    Ok((query, format.unwrap_or(Format::Json)))
}

/// `{ from, to, rows: [{ hour, consumer, route, status_class, requests }] }`.
pub(crate) fn render_json(query: &UsageQuery, rows: &[UsageRow]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "hour": hour_label(r.hour),
                "consumer": r.consumer,
                "route": r.route,
                "status_class": class_label(r.class),
                "requests": r.requests,
            })
        })
        .collect();
    json!({
        "from": hour_label(query.from_hour),
        "to": hour_label(query.to_hour),
        "rows": rows,
    })
}

/// RFC 4180 CSV with a header line: `hour,consumer,route,status_class,requests`.
pub(crate) fn render_csv(rows: &[UsageRow]) -> String {
    let mut out = String::from("hour,consumer,route,status_class,requests\r\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}\r\n",
            hour_label(r.hour),
            csv_field(&r.consumer),
            csv_field(&r.route),
            class_label(r.class),
            r.requests
        ));
    }
    out
}

/// `a=b&c=d` → pairs, percent-decoded (`+` is a space); `None` for a bad escape or non-UTF-8.
pub(crate) fn decode_query(raw: &str) -> Option<Vec<(String, String)>> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn not_enabled() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "usage metering is not enabled (add a `usage:` section)",
    )
}

fn unavailable(e: &gatehouse_store::Error) -> Response {
    tracing::warn!(error = %e, "usage export: store unavailable");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "the usage store is unavailable; counts are kept and flushed later",
    )
}

/// `GET /admin/usage`: flushes this instance's counts, then reads the store (with Redis: the
/// totals of every gateway sharing it).
async fn export(State(state): State<Arc<AdminState>>, RawQuery(raw): RawQuery) -> Response {
    let Some(params) = decode_query(raw.as_deref().unwrap_or("")) else {
        return problem(StatusCode::BAD_REQUEST, "malformed query string");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (query, format) = match parse_params(&params, now) {
        Ok(q) => q,
        Err(detail) => return problem(StatusCode::BAD_REQUEST, &detail),
    };
    let snapshot = state.reloader.gateway().snapshot();
    let Some(meter) = snapshot.usage() else {
        return not_enabled();
    };
    let rows = match meter.read(&query).await {
        Ok(rows) => rows,
        Err(e) => return unavailable(&e),
    };
    match format {
        Format::Json => json_response(StatusCode::OK, render_json(&query, &rows)),
        Format::Csv => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            render_csv(&rows),
        )
            .into_response(),
    }
}

/// `POST /admin/usage/flush`: writes this instance's counts to the store now.
async fn flush(State(state): State<Arc<AdminState>>) -> Response {
    let snapshot = state.reloader.gateway().snapshot();
    let Some(meter) = snapshot.usage() else {
        return not_enabled();
    };
    match meter.flush().await {
        Ok(()) => json_response(StatusCode::OK, json!({ "status": "flushed" })),
        Err(e) => unavailable(&e),
    }
}
