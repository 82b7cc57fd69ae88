//! Rate-limit response headers and the most restrictive decision that drives them.

use std::time::Duration;

use gatehouse_config::model::{Limit, RateLimitHeaders};
use gatehouse_store::Decision;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Whole seconds of `d`, rounded up (`RateLimit-Reset`, the policy window).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `Retry-After` of a refusal: whole seconds rounded up, at least 1.
pub fn retry_after_secs(decision: &Decision) -> u64 {
    ceil_secs(decision.retry_after.unwrap_or(decision.reset_after)).max(1)
}

/// Whether `a` is more restrictive than `b`: fewer requests remaining, then a later reset.
pub fn more_restrictive(a: &Decision, b: &Decision) -> bool {
    (a.remaining, std::cmp::Reverse(a.reset_after))
        < (b.remaining, std::cmp::Reverse(b.reset_after))
}

/// The name of `limit` in the structured headers: `<requests>-per-<window s>s`.
pub fn policy_name(limit: &Limit) -> String {
    format!("{}-per-{}s", limit.requests, ceil_secs(limit.per).max(1))
}

/// Adds the enabled headers describing `decision` (made under `limit`) to `headers`. The numeric
/// headers are formatted without an intermediate `String`.
pub fn add(headers: &mut HeaderMap, which: RateLimitHeaders, limit: &Limit, decision: &Decision) {
    let reset = ceil_secs(decision.reset_after);
    let mut numbers = |names: [&'static str; 3]| {
        for (name, value) in names
            .into_iter()
            .zip([decision.limit, decision.remaining, reset])
        {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    };
    if which.draft {
        numbers(["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]);
    }
    if which.x_ratelimit {
        numbers([
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ]);
    }
    if which.structured {
        let name = policy_name(limit);
        let window = ceil_secs(limit.per).max(1);
        for (header, value) in [
            (
                "ratelimit-policy",
                format!("\"{name}\";q={};w={window}", decision.limit),
            ),
            (
                "ratelimit",
                format!("\"{name}\";r={};t={reset}", decision.remaining),
            ),
        ] {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(HeaderName::from_static(header), value);
            }
        }
    }
}
