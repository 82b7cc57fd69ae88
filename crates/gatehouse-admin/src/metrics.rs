//! `GET /metrics` (Prometheus text, or OpenMetrics when the scraper asks for it) and the
//! per-route / per-upstream summaries of `/status`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatehouse_core::Snapshot;
use gatehouse_core::reload::Reloader;
use gatehouse_metrics::{Collector, Encoder, Format};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::AdminState;

/// `GET /metrics`: every registered family; OpenMetrics 1.0 when `Accept` names
/// `application/openmetrics-text`, else Prometheus text 0.0.4.
pub(crate) async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let format = negotiate(&headers);
    let body = state.reloader.gateway().metrics().render(format);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// OpenMetrics when any `Accept` value names it, else Prometheus text.
fn negotiate(headers: &HeaderMap) -> Format {
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let mut parts = v.split(';');
            let media = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
    if wants_openmetrics {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// `gatehouse_config_reloads_total{result}` from the reloader's counters (reloads through
/// SIGHUP, the file watcher and `POST /admin/reload`).
pub(crate) struct ReloadMetrics(pub(crate) Arc<Reloader>);

impl Collector for ReloadMetrics {
    fn collect(&self, out: &mut Encoder) {
        let stats = self.0.stats();
        let help = "Configuration reloads tried, by result.";
        out.counter(
            "gatehouse_config_reloads",
            help,
            &[("result", "success")],
            stats.succeeded,
        );
        out.counter(
            "gatehouse_config_reloads",
            help,
            &[("result", "failure")],
            stats.failed,
        );
    }
}

/// Registers the reload counters; they stay exposed while the returned `Arc` lives.
pub(crate) fn register_reloads(reloader: &Arc<Reloader>) -> Arc<dyn Collector> {
    let collector: Arc<dyn Collector> = Arc::new(ReloadMetrics(reloader.clone()));
    reloader.gateway().metrics().register(&collector);
    collector
}

/// `/status` `summary`: per route the request count, 5xx count and latency quantiles (ms, from
/// the request-duration histogram since start); per upstream the healthy/total targets and the
/// requests in flight.
pub(crate) fn summary(snapshot: &Snapshot) -> Value {
    let ms = |q: Option<f64>| q.map(|s| (s * 1e6).round() / 1e3);
    let routes: Vec<Value> = snapshot
        .route_metrics()
        .routes()
        .map(|r| {
            json!({
                "route": r.name(),
                "cluster": r.cluster(),
                "requests": r.requests(),
                "errors_5xx": r.server_errors(),
                "p50_ms": ms(r.latency_quantile(0.5)),
                "p95_ms": ms(r.latency_quantile(0.95)),
                "p99_ms": ms(r.latency_quantile(0.99)),
            })
        })
        .collect();
    let mut upstreams: Vec<Value> = snapshot
        .clusters()
        .map(|(name, cluster)| {
            let targets = cluster.status();
            let healthy = targets.iter().filter(|t| t.healthy && !t.ejected).count();
            let in_flight: u64 = targets.iter().map(|t| t.in_flight).sum();
            json!({
                "upstream": name,
                "targets": targets.len(),
                "healthy": healthy,
                "in_flight": in_flight,
            })
        })
        .collect();
    upstreams.sort_by(|a, b| a["upstream"].as_str().cmp(&b["upstream"].as_str()));
    json!({ "routes": routes, "upstreams": upstreams })
}

#[cfg(test)]
mod tests;
