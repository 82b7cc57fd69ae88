//! The tries of one upstream call: per-try and total timeouts, the deadline header, retries with
//! backoff on another target, `Retry-After`, and the cluster's retry budget.

use std::time::Duration;

use gatehouse_config::model::RetryPolicy;
use gatehouse_plugins::RequestContext;
use gatehouse_upstream::retry::{Failure, TimeoutKind, backoff_delay, retry_after};
use gatehouse_upstream::{Selected, UpstreamError};
use http::header::{self, HeaderValue};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::body::RequestBody;
use super::{Answer, BodyFlags, CallPolicy};
use crate::Error;
use crate::snapshot::RouteEntry;

/// The largest retried response body drained (so its connection can be reused); larger ones are
/// dropped with their connection.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// How long a retried response body may take to drain at least.
const DRAIN_MIN: Duration = Duration::from_millis(20);

/// One upstream call's tries.
pub(super) struct Tries<'a> {
    pub(super) entry: &'a RouteEntry,
    pub(super) policy: &'a CallPolicy,
    /// The retry policy when this request may be retried (method, buffered body).
    pub(super) retry: Option<&'a RetryPolicy>,
    pub(super) flags: &'a BodyFlags,
}

impl Tries<'_> {
    /// Sends the request to `target`, then to other targets while the policy allows retries.
    pub(super) async fn run(
        self,
        cx: &mut RequestContext,
        head: http::request::Parts,
        mut body: RequestBody,
        mut target: Selected,
    ) -> Result<Answer, Error> {
        let cluster = &self.entry.cluster;
        let stats = cluster.call_stats();
        if let Some(budget) = cluster.retry_budget() {
            budget.request();
        }
        let deadline = self.policy.total.map(|t| Instant::now() + t);
        let attempts = self.retry.map_or(1, |r| r.attempts);
        let mut head = Some(head);
        let mut tried = 0;
        loop {
            tried += 1;
            let last = tried >= attempts;
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let timeout = remaining.map_or(self.policy.per_try, |r| r.min(self.policy.per_try));
            if timeout.is_zero() {
                stats.timeout(TimeoutKind::Total);
                return Err(Error::UpstreamTimeout);
            }
            let mut parts = match (last, head.as_ref()) {
                (false, Some(template)) => copy_head(template),
                _ => head.take().ok_or(Error::UpstreamTimeout)?,
            };
            self.prepare(&mut parts, &target, timeout);
            let attempt = crate::trace::Attempt::start(cx, target.address(), &mut parts);
            let sent = Instant::now();
            let request = Request::from_parts(parts, body.next());
            let result = cluster.send_within(&target, request, timeout).await;
            let latency = sent.elapsed();
            attempt.end(cx, &result);
            let failure = match &result {
                Ok(response) => Some(Failure::Status(response.status().as_u16())),
                Err(e) => {
                    if e.is_timeout() {
                        let total = remaining.is_some_and(|r| r < self.policy.per_try);
                        stats.timeout(if total {
                            TimeoutKind::Total
                        } else {
                            TimeoutKind::PerTry
                        });
                    } else if e.is_connect_timeout() {
                        stats.timeout(TimeoutKind::Connect);
                    }
                    Failure::of_error(e)
                }
            };
            let wait = match (self.retry, failure, head.as_ref()) {
                (Some(retry), Some(failure), Some(next)) if !last => self
                    .retry_wait(retry, failure, &result, tried, deadline)
                    .and_then(|wait| {
                        let other = cluster.select_excluding(next, cx.client_ip, &target);
                        let other = other.or_else(|| cluster.select(next, cx.client_ip));
                        other.map(|t| (wait, failure, t))
                    }),
                _ => None,
            };
            let Some((wait, failure, next_target)) = wait else {
                return self.finish(result, target, latency);
            };
            stats.retry(failure);
            cx.retries += 1;
            tracing::debug!(
                request_id = %cx.request_id,
                target = %target.address(),
                reason = failure.reason(),
                wait_ms = wait.as_millis() as u64,
                "retrying upstream request"
            );
            pause(result.ok(), wait).await;
            target = next_target;
        }
    }

    /// The wait before retrying `failure`, or `None` when it must not be retried: not listed in
    /// `on`, an upstream `Retry-After` beyond the backoff max, no time left before the deadline,
    /// or the cluster's retry budget spent.
    fn retry_wait(
        &self,
        retry: &RetryPolicy,
        failure: Failure,
        result: &Result<Response<Incoming>, UpstreamError>,
        tried: u32,
        deadline: Option<Instant>,
    ) -> Option<Duration> {
        if !failure.is_retried_by(retry) || self.flags.client_error().is_some() {
            return None;
        }
        let asked = result.as_ref().ok().and_then(|r| retry_after(r.headers()));
        let wait = match asked {
            Some(asked) if asked > retry.backoff.max => return None,
            Some(asked) => asked,
            None => backoff_delay(&retry.backoff, tried),
        };
        if deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return None;
        }
        let cluster = &self.entry.cluster;
        if let Some(budget) = cluster.retry_budget()
            && !budget.try_retry()
        {
            cluster.call_stats().budget_exhausted();
            return None;
        }
        Some(wait)
    }

    /// Sets the try's `Host` (unless the route preserves the client's) and deadline header.
    fn prepare(&self, parts: &mut http::request::Parts, target: &Selected, timeout: Duration) {
        if !self.entry.preserve_host
            && let Ok(host) = HeaderValue::from_str(target.address())
        {
            parts.headers.insert(header::HOST, host);
        }
        if let Some(name) = &self.policy.deadline_header {
            parts
                .headers
                .insert(name.clone(), HeaderValue::from(timeout.as_millis() as u64));
        }
    }

    /// The call's answer from the last try's result.
    fn finish(
        &self,
        result: Result<Response<Incoming>, UpstreamError>,
        target: Selected,
        latency: Duration,
    ) -> Result<Answer, Error> {
        match result {
            Ok(response) => Ok(Answer::Upstream {
                response,
                target,
                latency,
            }),
            Err(e) => Err(match self.flags.client_error() {
                Some(client) => client,
                None if e.is_timeout() => Error::UpstreamTimeout,
                None => Error::Upstream(e),
            }),
        }
    }
}

/// Waits `wait` before the next try, meanwhile draining a small retried response so that its
/// connection goes back to the pool (a large or slow one is dropped with its connection).
async fn pause(response: Option<Response<Incoming>>, wait: Duration) {
    let drain = async move {
        let Some(response) = response else { return };
        let body = response.into_body();
        if hyper::body::Body::size_hint(&body)
            .upper()
            .is_some_and(|n| n <= DRAIN_LIMIT)
        {
            let _ = body.collect().await;
        }
    };
    let bounded = tokio::time::timeout(wait.max(DRAIN_MIN), drain);
    let ((), _drained) = tokio::join!(tokio::time::sleep(wait), bounded);
}

/// A copy of a request head (method, URI, version, headers; extensions are empty here).
fn copy_head(parts: &http::request::Parts) -> http::request::Parts {
    let (mut copy, ()) = Request::new(()).into_parts();
    copy.method = parts.method.clone();
    copy.uri = parts.uri.clone();
    copy.version = parts.version;
    copy.headers = parts.headers.clone();
    copy
}
