//! An echo upstream whose health endpoint can be flipped at runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use http::StatusCode;
use serde_json::json;

use crate::echo::{echo, json_response};
use crate::upstream::{HttpMode, Upstream, spawn_http};

/// The path answered with the switchable health status.
pub const HEALTH_PATH: &str = "/healthz";

/// Controls the health status of an upstream spawned by [`spawn_flaky_health`].
/// Cheap to clone; all clones control the same upstream.
#[derive(Debug, Clone)]
pub struct HealthSwitch {
    status: Arc<AtomicU16>,
    checks: Arc<AtomicUsize>,
}

// === impl HealthSwitch ===

impl HealthSwitch {
    /// Makes [`HEALTH_PATH`] answer `status` from now on.
    ///
    /// # Panics
    /// If `status` is not a valid HTTP status code.
    pub fn set_health(&self, status: u16) {
        StatusCode::from_u16(status).expect("testkit: invalid status code");
        self.status.store(status, Ordering::SeqCst);
    }

    /// The status [`HEALTH_PATH`] answers now (initially `200`).
    pub fn health(&self) -> u16 {
        self.status.load(Ordering::SeqCst)
    }

    /// Requests to [`HEALTH_PATH`] received so far (they also count in `hits`).
    pub fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

/// Spawns an echo upstream whose [`HEALTH_PATH`] answers the status set through
/// the returned [`HealthSwitch`] (initially `200`), with body `{"status": code}`.
/// Every other request echoes, as [`spawn_echo`](crate::spawn_echo).
pub async fn spawn_flaky_health() -> (Upstream, HealthSwitch) {
    let switch = HealthSwitch {
        status: Arc::new(AtomicU16::new(200)),
        checks: Arc::new(AtomicUsize::new(0)),
    };
    let handle = switch.clone();
    let upstream = spawn_http(HttpMode::Auto, move |req, server| {
        let switch = switch.clone();
        async move {
            if req.uri().path() != HEALTH_PATH {
                return echo(req, server).await;
            }
            switch.checks.fetch_add(1, Ordering::SeqCst);
            let code = switch.health();
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            json_response(status, &json!({ "status": code }))
        }
    })
    .await;
    (upstream, handle)
}
