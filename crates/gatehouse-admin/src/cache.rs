//! `DELETE /admin/cache?key=/path?query` or `?prefix=/path/`: purge stored responses from every
//! response cache of the running configuration (in process and Redis).

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::delete;
use gatehouse_core::CacheTarget;
use http::StatusCode;
use serde_json::json;

use crate::AdminState;
use crate::metering::decode_query;
use crate::routes::{json_response, problem};

/// The purge route (behind the admin token like the others).
pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new().route("/admin/cache", delete(purge))
}

/// Exactly one of `key` or `prefix`, starting with `/`.
fn target(params: &[(String, String)]) -> Result<CacheTarget<'_>, &'static str> {
    let [(name, value)] = params else {
        return Err("give exactly one of `key` or `prefix`");
    };
    if !value.starts_with('/') {
        return Err("the key or prefix is a path: it starts with `/`");
    }
    match name.as_str() {
        "key" => Ok(CacheTarget::Key(value)),
        "prefix" => Ok(CacheTarget::Prefix(value)),
        _ => Err("unknown parameter: give `key` or `prefix`"),
    }
}

async fn purge(State(state): State<Arc<AdminState>>, RawQuery(raw): RawQuery) -> Response {
    let Some(params) = decode_query(raw.as_deref().unwrap_or("")) else {
        return problem(StatusCode::BAD_REQUEST, "malformed query string");
    };
    let target = match target(&params) {
        Ok(t) => t,
        Err(detail) => return problem(StatusCode::BAD_REQUEST, detail),
    };
    let snapshot = state.reloader.gateway().snapshot();
    match snapshot.purge_response_caches(target).await {
        None => problem(
            StatusCode::NOT_FOUND,
            "no response cache is configured (add a `cache` plugin)",
        ),
        Some(Ok(purged)) => json_response(StatusCode::OK, json!({ "purged": purged })),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "cache purge: backend unavailable");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the cache backend is unavailable; nothing was purged there",
            )
        }
    }
}
