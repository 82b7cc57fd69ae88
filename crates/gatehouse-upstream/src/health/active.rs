//! The active health checker: one background task per cluster.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{HealthCheck, StatusRange, UpstreamProtocol};
use http::uri::Scheme;
use http::{Method, Request, Uri, Version, header};
use http_body_util::{BodyExt, Empty, Limited};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::MissedTickBehavior;

use super::Transition;
use crate::ProxyBody;
use crate::client::HttpClient;
use crate::cluster::TargetState;

/// At most this much of a check response's body is read (so the connection can be reused).
const MAX_CHECK_BODY: usize = 64 * 1024;

/// Shortest period between check rounds.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Statuses counted as success when `expected_statuses` is empty.
const DEFAULT_EXPECTED: StatusRange = StatusRange { from: 200, to: 399 };

/// Everything the checker task owns.
pub(crate) struct Checker {
    pub(crate) cluster: String,
    pub(crate) check: HealthCheck,
    pub(crate) targets: Arc<[Arc<TargetState>]>,
    pub(crate) client: HttpClient,
    pub(crate) scheme: Scheme,
    pub(crate) protocol: UpstreamProtocol,
}

impl Checker {
    /// Spawns the checker on the current runtime; abort the handle to stop it.
    pub(crate) fn spawn(self, runtime: &tokio::runtime::Handle) -> AbortHandle {
        runtime.spawn(self.run()).abort_handle()
    }

    /// Every `interval` (first round at once), checks all targets concurrently and waits for the
    /// round to finish before the next one.
    async fn run(self) {
        let this = Arc::new(self);
        // A zero interval would make `interval` panic; the loader refuses it, this is a backstop.
        let period = this.check.interval.max(MIN_INTERVAL);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let mut round = JoinSet::new();
            for target in this.targets.iter() {
                let (this, target) = (this.clone(), target.clone());
                round.spawn(async move { this.check_one(&target).await });
            }
            while round.join_next().await.is_some() {}
        }
    }

    async fn check_one(&self, target: &TargetState) {
        let ok = self.probe(target).await;
        let Some(transition) = target.health.record_active(ok, &self.check) else {
            return;
        };
        match transition {
            Transition::Healthy => tracing::info!(
                cluster = %self.cluster,
                target = %target.address,
                "upstream target is healthy again"
            ),
            Transition::Unhealthy => tracing::warn!(
                cluster = %self.cluster,
                target = %target.address,
                failures = self.check.unhealthy_threshold,
                "upstream target is unhealthy"
            ),
        }
    }

    /// One GET `path`; true when the status is expected and arrives within the timeout.
    async fn probe(&self, target: &TargetState) -> bool {
        let Some(request) = self.request(target) else {
            return false;
        };
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            let status = response.status().as_u16();
            // Drain (bounded) so that the connection goes back to the pool.
            let _ = Limited::new(response.into_body(), MAX_CHECK_BODY)
                .collect()
                .await;
            Some(status)
        };
        let status = match tokio::time::timeout(self.check.timeout, exchange).await {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => return false,
        };
        let expected = &self.check.expected_statuses;
        if expected.is_empty() {
            DEFAULT_EXPECTED.contains(status)
        } else {
            expected.iter().any(|range| range.contains(status))
        }
    }

    fn request(&self, target: &TargetState) -> Option<Request<ProxyBody>> {
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(target.authority.clone())
            .path_and_query(self.check.path.as_str())
            .build();
        let uri = match uri {
            Ok(uri) => uri,
            Err(e) => {
                tracing::warn!(cluster = %self.cluster, path = %self.check.path, error = %e,
                    "invalid health check path");
                return None;
            }
        };
        let host = self.check.host.as_deref().unwrap_or(&target.address);
        let version = match self.protocol {
            UpstreamProtocol::Http1 => Version::HTTP_11,
            UpstreamProtocol::Http2 => Version::HTTP_2,
        };
        let body: ProxyBody = Empty::new().map_err(|never| match never {}).boxed();
        Request::builder()
            .method(Method::GET)
            .uri(uri)
            .version(version)
            .header(header::HOST, host)
            .header(header::USER_AGENT, "gatehouse-health-check")
            .body(body)
            .ok()
    }
}
