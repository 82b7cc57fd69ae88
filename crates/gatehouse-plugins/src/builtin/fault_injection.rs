//! `fault_injection`: delay or abort a share of requests, so that users can test their own
//! clients' timeouts, retries and error handling (as Envoy and APISIX offer). A testing tool: off
//! unless configured.

use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::{FaultAbort, FaultDelay, FaultInjectionConfig};
use http::{HeaderName, StatusCode, request};

use crate::problem::problem_response;
use crate::{Flow, Phases, Plugin, RequestContext, Result};

/// Request header forcing a delay, in milliseconds (with `header_control: true`).
pub const DELAY_HEADER: HeaderName = HeaderName::from_static("x-gatehouse-fault-delay");
/// Request header forcing an abort with a 4xx/5xx status (with `header_control: true`).
pub const ABORT_HEADER: HeaderName = HeaderName::from_static("x-gatehouse-fault-abort");
/// Largest delay a header may ask for when no `delay` is configured.
pub const MAX_HEADER_DELAY: Duration = Duration::from_secs(10);

/// The `fault_injection` plugin (`on_access`).
///
/// Per request, `delay` fires with its percentage (the request waits `duration`, then continues),
/// then `abort` fires with its percentage (the request is answered with `status`, `problem+json`
/// with `detail: "fault injected"`, and never reaches the upstream). With `header_control`, the
/// request headers [`DELAY_HEADER`] (milliseconds, capped at the configured delay or
/// [`MAX_HEADER_DELAY`]) and [`ABORT_HEADER`] (400–599; other values are ignored) force the
/// faults; both headers are removed before the request goes upstream.
pub struct FaultInjection {
    delay: Option<FaultDelay>,
    abort: Option<FaultAbort>,
    header_control: bool,
    /// A uniform roll in `[0, 1)`; injectable so tests decide the dice.
    dice: fn() -> f64,
}

impl std::fmt::Debug for FaultInjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultInjection")
            .field("delay", &self.delay)
            .field("abort", &self.abort)
            .field("header_control", &self.header_control)
            .finish_non_exhaustive()
    }
}

impl FaultInjection {
    /// Builds the plugin from its settings, rolling with `rand`.
    pub fn new(config: &FaultInjectionConfig) -> Self {
        Self::with_dice(config, rand::random::<f64>)
    }

    /// Builds the plugin with `dice` (a roll in `[0, 1)`) deciding whether a percentage fires.
    pub fn with_dice(config: &FaultInjectionConfig, dice: fn() -> f64) -> Self {
        FaultInjection {
            delay: config.delay.clone(),
            abort: config.abort.clone(),
            header_control: config.header_control,
            dice,
        }
    }

    /// Whether a fault configured for `percentage` % of requests fires on this request.
    fn fires(&self, percentage: f64) -> bool {
        percentage >= 100.0 || (percentage > 0.0 && (self.dice)() * 100.0 < percentage)
    }

    /// The delay asked for by the request's [`DELAY_HEADER`], capped.
    fn header_delay(&self, req: &request::Parts) -> Option<Duration> {
        let ms = header_number(req, &DELAY_HEADER)?;
        let max = self.delay.as_ref().map_or(MAX_HEADER_DELAY, |d| d.duration);
        Some(Duration::from_millis(ms).min(max))
    }

    /// The status asked for by the request's [`ABORT_HEADER`], when it is 400–599.
    fn header_abort(req: &request::Parts) -> Option<StatusCode> {
        let status = header_number(req, &ABORT_HEADER)?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (400..=599).contains(s))?;
        StatusCode::from_u16(status).ok()
    }
}

/// The header's value as a decimal number, if it is one.
fn header_number(req: &request::Parts, name: &HeaderName) -> Option<u64> {
    req.headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[async_trait]
impl Plugin for FaultInjection {
    fn name(&self) -> &'static str {
        "fault_injection"
    }

    fn priority(&self) -> i32 {
        super::priority::FAULT_INJECTION
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        let (forced_delay, forced_abort) = if self.header_control {
            let forced = (self.header_delay(req), Self::header_abort(req));
            req.headers.remove(&DELAY_HEADER);
            req.headers.remove(&ABORT_HEADER);
            forced
        } else {
            (None, None)
        };
        let delay = forced_delay.or_else(|| {
            self.delay
                .as_ref()
                .filter(|d| self.fires(d.percentage))
                .map(|d| d.duration)
        });
        if let Some(delay) = delay.filter(|d| !d.is_zero()) {
            tracing::debug!(request_id = %cx.request_id, ?delay, "fault_injection: delaying");
            tokio::time::sleep(delay).await;
        }
        let abort = forced_abort.or_else(|| {
            self.abort
                .as_ref()
                .filter(|a| self.fires(a.percentage))
                .and_then(|a| StatusCode::from_u16(a.status).ok())
        });
        if let Some(status) = abort {
            tracing::debug!(request_id = %cx.request_id, %status, "fault_injection: aborting");
            return Ok(Flow::Respond(problem_response(
                status,
                "fault injected",
                &cx.request_id,
            )));
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests;
