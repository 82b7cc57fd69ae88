//! Admin endpoints.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{StatusCode, header};
use serde_json::{Value, json};

use crate::AdminState;

/// All admin routes; `/live` and `/ready` stay open, the rest is behind the token.
pub(crate) fn router(state: Arc<AdminState>) -> Router {
    let protected = Router::new()
        .route("/status", get(status))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/admin/reload", post(reload))
        .route("/admin/consumers/{id}/usage", get(crate::usage::usage))
        .merge(crate::metering::routes())
        .merge(crate::cache::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ));
    Router::new()
        .route("/live", get(live))
        .route("/ready", get(ready))
        .merge(protected)
        .with_state(state)
}

async fn live() -> Response {
    json_response(StatusCode::OK, json!({ "status": "live" }))
}

async fn ready(State(state): State<Arc<AdminState>>) -> Response {
    if state.reloader.gateway().is_draining() {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "draining" }),
        )
    } else {
        json_response(StatusCode::OK, json!({ "status": "ready" }))
    }
}

async fn status(State(state): State<Arc<AdminState>>) -> Response {
    let gateway = state.reloader.gateway();
    let snapshot = gateway.snapshot();
    let stats = state.reloader.stats();
    let unix = |t: std::time::SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let mut upstreams = serde_json::Map::new();
    for (name, cluster) in snapshot.clusters() {
        let targets: Vec<Value> = cluster
            .status()
            .into_iter()
            .map(|t| json!({ "address": t.address, "healthy": t.healthy, "ejected": t.ejected, "in_flight": t.in_flight }))
            .collect();
        upstreams.insert(name.to_owned(), Value::Array(targets));
    }
    let listeners: Vec<Value> = gateway
        .listener_addrs()
        .iter()
        .map(|(name, addr)| json!({ "name": name, "address": addr.to_string() }))
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": gateway.uptime().as_secs(),
            "config": {
                "version": snapshot.version,
                "hash": snapshot.config.meta.hash,
                "files": snapshot.config.meta.files,
                "loaded_at_unix": unix(snapshot.loaded_at),
                "routes": snapshot.config.routes.len(),
            },
            "reloads": {
                "succeeded": stats.succeeded,
                "failed": stats.failed,
                "last_attempt_unix": stats.last_attempt.map(unix),
                "last_error": stats.last_error,
            },
            "listeners": listeners,
            "upstreams": upstreams,
            "summary": crate::metrics::summary(&snapshot),
        }),
    )
}

async fn reload(State(state): State<Arc<AdminState>>) -> Response {
    let reloader = state.reloader.clone();
    match tokio::task::spawn_blocking(move || reloader.reload("admin")).await {
        Ok(Ok(version)) => json_response(
            StatusCode::OK,
            json!({ "status": "reloaded", "version": version }),
        ),
        Ok(Err(e)) => problem(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "reload task failed"),
    }
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
