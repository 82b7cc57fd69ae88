//! A route's call policy: timeouts and retries, resolved from the route and its upstream.

use std::time::Duration;

use gatehouse_config::model::{RetryPolicy, RouteResilience, Upstream};
use http::HeaderName;

/// How a route calls its cluster, built once per snapshot.
#[derive(Debug, Clone)]
pub(crate) struct CallPolicy {
    /// The retry policy (the route's `retry`, else the upstream's); `None` = one try only.
    pub(crate) retry: Option<RetryPolicy>,
    /// Per-try time to the response head (`timeouts.per_try`).
    pub(crate) per_try: Duration,
    /// Overall bound across tries (the route's `timeout`, else `timeouts.total`).
    pub(crate) total: Option<Duration>,
    /// Header carrying the try's time budget in milliseconds to the upstream.
    pub(crate) deadline_header: Option<HeaderName>,
    /// Longest wait for each response body chunk (`timeouts.body`).
    pub(crate) body: Option<Duration>,
}

impl CallPolicy {
    /// Resolves the route's overrides against its upstream's settings.
    pub(crate) fn new(route: &RouteResilience, upstream: &Upstream) -> CallPolicy {
        let retry = route
            .retry
            .as_ref()
            .or(upstream.resilience.retry.as_ref())
            .filter(|r| r.attempts > 1)
            .cloned();
        CallPolicy {
            retry,
            per_try: upstream.timeouts.request,
            total: route.timeout.or(upstream.timeouts.total),
            deadline_header: upstream.timeouts.deadline_header.clone(),
            body: upstream.timeouts.body,
        }
    }
}
