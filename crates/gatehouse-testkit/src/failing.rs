//! An upstream that always fails.

use http::StatusCode;

use crate::echo::text;
use crate::upstream::{HttpMode, Upstream, spawn_http};

/// Spawns an upstream that answers every request with `status` and a short
/// `text/plain` body `upstream failing with {status}`.
///
/// # Panics
/// If `status` is not a valid HTTP status code (100–999).
pub async fn spawn_failing(status: u16) -> Upstream {
    let status = StatusCode::from_u16(status).expect("testkit: invalid status code");
    spawn_http(HttpMode::Auto, move |_req, _server| async move {
        text(
            status,
            &format!("upstream failing with {}", status.as_u16()),
        )
    })
    .await
}
