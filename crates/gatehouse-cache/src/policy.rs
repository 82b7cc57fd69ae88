//! What may be stored and for how long (RFC 9111 §3 and §4.2, shared-cache rules), with the
//! operator's overrides from [`CacheConfig`].

use std::time::{Duration, SystemTime};

use gatehouse_config::model::CacheConfig;
use http::header::{AGE, AUTHORIZATION, DATE, EXPIRES, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderName, Method, StatusCode};

use crate::directives::{CacheControl, parse_http_date};

/// Entries with a validator are kept at least this long past their freshness (to revalidate them).
const MIN_KEEP_FOR_REVALIDATION: Duration = Duration::from_secs(60);

/// Freshness and storage lifetime of a storable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Freshness lifetime (0 = revalidate before each use).
    pub fresh_for: Duration,
    /// Age it already had.
    pub initial_age: Duration,
    /// Stale-while-revalidate window.
    pub stale_while_revalidate: Duration,
    /// Stale-if-error window.
    pub stale_if_error: Duration,
    /// The request headers the response varies on (`Vary`), lower case, in order.
    pub vary: Vec<HeaderName>,
}

/// The storage and freshness rules of one `cache` plugin instance.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: CacheConfig,
}

impl Policy {
    /// Rules from the plugin's settings.
    pub fn new(cfg: &CacheConfig) -> Policy {
        Policy { cfg: cfg.clone() }
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.cfg
    }

    /// Whether requests with `method` are answered from the cache.
    pub fn method_cacheable(&self, method: &Method) -> bool {
        self.cfg.methods.contains(method)
    }

    /// Whether the client asked for a trip to the upstream and the settings honour that.
    pub fn client_no_cache(&self, request: &HeaderMap) -> bool {
        self.cfg.honor_client_no_cache && CacheControl::parse(request, true).no_cache
    }

    /// How long an entry is kept in storage: freshness, the stale windows, and (with a validator)
    /// a while longer so that it can still be revalidated with a conditional request.
    pub fn storage_ttl(&self, f: &Freshness, has_validator: bool) -> Duration {
        let stale = f.stale_while_revalidate.max(f.stale_if_error);
        let keep = if has_validator {
            f.fresh_for
                .max(self.cfg.default_ttl)
                .max(MIN_KEEP_FOR_REVALIDATION)
        } else {
            Duration::ZERO
        };
        (f.fresh_for.saturating_sub(f.initial_age) + stale.max(keep)).max(Duration::from_secs(1))
    }

    /// Whether a response to a request with `request` headers may be stored, and its freshness.
    /// `None`: not stored (status not listed, `no-store`, `private`, `Set-Cookie`, `Vary: *`,
    /// `Authorization` without `public`/`s-maxage`/`must-revalidate`, or nothing to keep).
    pub fn storable(
        &self,
        request: &HeaderMap,
        status: StatusCode,
        response: &HeaderMap,
        now: SystemTime,
    ) -> Option<Freshness> {
        if !self.cfg.statuses.contains(&status.as_u16()) || response.contains_key(SET_COOKIE) {
            return None;
        }
        let cc = CacheControl::parse(response, false);
        if cc.no_store || cc.private {
            return None;
        }
        if request.contains_key(AUTHORIZATION)
            && !(cc.public || cc.s_maxage.is_some() || cc.must_revalidate)
        {
            return None;
        }
        let vary = vary_names(response)?;
        let fresh_for = if cc.no_cache {
            Duration::ZERO
        } else if let Some(forced) = self.cfg.force_ttl {
            forced
        } else {
            let own = cc
                .s_maxage
                .or(cc.max_age)
                .or_else(|| expires_lifetime(response, now));
            own.unwrap_or(self.cfg.default_ttl)
        };
        let fresh_for = self.cfg.max_ttl.map_or(fresh_for, |max| fresh_for.min(max));
        let (swr, sie) = if cc.must_revalidate {
            (Duration::ZERO, Duration::ZERO)
        } else if fresh_for.is_zero() {
            // Revalidated before every use: only stale-if-error can apply.
            (
                Duration::ZERO,
                cc.stale_if_error.unwrap_or(self.cfg.stale_if_error),
            )
        } else {
            (
                cc.stale_while_revalidate
                    .unwrap_or(self.cfg.stale_while_revalidate),
                cc.stale_if_error.unwrap_or(self.cfg.stale_if_error),
            )
        };
        let has_validator = response.contains_key(http::header::ETAG)
            || response.contains_key(http::header::LAST_MODIFIED);
        if fresh_for.is_zero() && swr.is_zero() && sie.is_zero() && !has_validator {
            return None;
        }
        let initial_age = response
            .get(AGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::ZERO, |s| Duration::from_secs(s.min(1 << 31)));
        Some(Freshness {
            fresh_for,
            initial_age,
            stale_while_revalidate: swr,
            stale_if_error: sie,
            vary,
        })
    }
}

/// The `Vary` field names, lower case; `None` for `Vary: *` (never stored).
pub fn vary_names(response: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut names = Vec::new();
    for value in response.get_all(VARY) {
        let Ok(text) = value.to_str() else {
            return None;
        };
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return None;
            }
            let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Some(names)
}

/// `Expires` − `Date` (or − now without `Date`); an invalid `Expires` means already expired.
fn expires_lifetime(response: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let expires = response.get(EXPIRES)?;
    let Some(expires) = expires.to_str().ok().and_then(parse_http_date) else {
        return Some(Duration::ZERO);
    };
    let date = response
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(parse_http_date)
        .unwrap_or(now);
    Some(expires.duration_since(date).unwrap_or_default())
}

#[cfg(test)]
mod tests;
