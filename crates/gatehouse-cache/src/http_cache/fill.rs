//! Completing a miss: validators on the upstream request, the upstream's answer turned into the
//! client's (304 → the stored response, 5xx → stale-if-error), and the body teed into storage.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{
    AGE, CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, TRANSFER_ENCODING,
};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;

use super::HttpCache;
use crate::answer::{self, Outcome, X_CACHE};
use crate::flight::FlightGuard;
use crate::metrics::RouteCounters;
use crate::policy::Freshness;
use crate::tee::TeeBody;
use crate::{Body, Entry, key};

/// Request headers that frameworks honour to override the URL, method, host or scheme — the
/// classic cache-poisoning vectors. Removed from requests that may fill the cache unless keyed.
pub const UNKEYED_OVERRIDES: [&str; 13] = [
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-forwarded-host",
    "x-forwarded-scheme",
    "x-forwarded-server",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-host",
    "x-original-host",
    "forwarded",
];

/// A miss (or a revalidation) on its way to the upstream. Dropping it unfinished stores nothing
/// and releases the requests waiting for it.
pub struct Fill {
    pub(super) cache: Arc<HttpCache>,
    pub(super) primary: String,
    pub(super) request: HeaderMap,
    pub(super) head: bool,
    pub(super) stale: Option<Arc<Entry>>,
    pub(super) guard: Option<FlightGuard>,
    pub(super) counters: Arc<RouteCounters>,
}

impl Fill {
    /// Adjusts the upstream request's headers: request-override headers that are not part of the
    /// key are removed (so that no client can make the stored response depend on them), the
    /// client's own validators too (a full, storable response is wanted), and the stored entry's
    /// validators are added (revalidation).
    pub fn prepare(&self, headers: &mut HeaderMap) {
        if self.head {
            return;
        }
        let keyed = &self.cache.policy.config().key.headers;
        for name in UNKEYED_OVERRIDES {
            if !keyed.iter().any(|k| k == name) {
                headers.remove(name);
            }
        }
        headers.remove(IF_NONE_MATCH);
        headers.remove(IF_MODIFIED_SINCE);
        if let Some(stale) = &self.stale {
            if let Some(etag) = stale.headers.get(ETAG) {
                headers.insert(IF_NONE_MATCH, etag.clone());
            }
            if let Some(modified) = stale.headers.get(LAST_MODIFIED) {
                headers.insert(IF_MODIFIED_SINCE, modified.clone());
            }
        }
    }

    /// The upstream call failed (connect error, timeout, …): the stale response to serve instead,
    /// when stale-if-error allows it.
    pub fn failed(self) -> Option<Response<Bytes>> {
        let now = SystemTime::now();
        let stale = self
            .stale
            .as_ref()
            .filter(|s| s.staleness(now) < s.stale_if_error)?;
        self.counters.count(Outcome::Stale);
        Some(answer::from_entry(
            stale,
            Outcome::Stale,
            &self.request,
            self.head,
            now,
        ))
    }

    /// The response to send for the upstream's `response`; stores it when it is storable and its
    /// body ends complete.
    pub fn response(self, mut response: Response<Body>) -> Response<Body> {
        let now = SystemTime::now();
        let status = response.status();
        if let Some(stale) = self.stale.clone().filter(|_| !self.head) {
            if status == StatusCode::NOT_MODIFIED {
                return self.revalidated(&stale, response.headers(), now);
            }
            if status.is_server_error() && stale.staleness(now) < stale.stale_if_error {
                self.counters.count(Outcome::Stale);
                let r = answer::from_entry(&stale, Outcome::Stale, &self.request, false, now);
                return r.map(full);
            }
        }
        let outcome = if self.stale.is_some() {
            Outcome::Expired
        } else {
            Outcome::Miss
        };
        self.counters.count(outcome);
        response.headers_mut().insert(&X_CACHE, outcome.header());
        if self.head {
            return response;
        }
        let policy = &self.cache.policy;
        let Some(fresh) = policy.storable(&self.request, status, response.headers(), now) else {
            return response;
        };
        let max_body = policy.config().max_body;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_body) {
            return response;
        }
        let (mut head, body) = response.into_parts();
        let mut headers = head.headers.clone();
        headers.remove(&X_CACHE);
        headers.remove(AGE);
        headers.remove(TRANSFER_ENCODING);
        let stored = (status, headers, fresh, declared);
        let store = move |body: Bytes| self.store(stored, body, now);
        let limit = usize::try_from(max_body).unwrap_or(usize::MAX);
        let body = TeeBody::new(body, limit, Box::new(store)).boxed();
        head.headers.insert(&X_CACHE, outcome.header());
        Response::from_parts(head, body)
    }

    /// The upstream confirmed the stored entry (304): refresh it with the 304's headers.
    fn revalidated(mut self, stale: &Entry, update: &HeaderMap, now: SystemTime) -> Response<Body> {
        let mut headers = stale.headers.clone();
        for name in update.keys() {
            if *name == CONTENT_LENGTH || *name == TRANSFER_ENCODING || *name == X_CACHE {
                continue;
            }
            headers.remove(name);
            for value in update.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.remove(AGE);
        let policy = &self.cache.policy;
        let fresh = policy.storable(&self.request, stale.status, &headers, now);
        let mut entry = stale.clone();
        entry.headers = headers;
        entry.stored_at = now;
        entry.initial_age = Default::default();
        if let Some(f) = &fresh {
            apply(&mut entry, f);
        }
        self.counters.count(Outcome::Revalidated);
        let response = answer::from_entry(&entry, Outcome::Revalidated, &self.request, false, now);
        if let Some(fresh) = fresh {
            let guard = self.guard.take();
            put(
                self.cache.clone(),
                self.primary.clone(),
                &self.request,
                fresh,
                entry,
                guard,
            );
        }
        response.map(full)
    }

    /// Runs when the body ended complete within `max_body`.
    fn store(
        self,
        (status, headers, fresh, declared): (StatusCode, HeaderMap, Freshness, Option<u64>),
        body: Bytes,
        now: SystemTime,
    ) {
        if declared.is_some_and(|len| len != body.len() as u64) {
            return; // shorter or longer than announced: not what the upstream meant to send
        }
        let mut entry = Entry {
            status,
            headers,
            body,
            stored_at: now,
            initial_age: Default::default(),
            fresh_for: Default::default(),
            stale_while_revalidate: Default::default(),
            stale_if_error: Default::default(),
        };
        apply(&mut entry, &fresh);
        put(
            self.cache,
            self.primary,
            &self.request,
            fresh,
            entry,
            self.guard,
        );
    }
}

fn apply(entry: &mut Entry, f: &Freshness) {
    entry.fresh_for = f.fresh_for;
    entry.initial_age = f.initial_age;
    entry.stale_while_revalidate = f.stale_while_revalidate;
    entry.stale_if_error = f.stale_if_error;
}

/// Writes `entry` in the background; waiters are released once it is written.
fn put(
    cache: Arc<HttpCache>,
    primary: String,
    request: &HeaderMap,
    fresh: Freshness,
    entry: Entry,
    guard: Option<FlightGuard>,
) {
    let variant = key::variant(&primary, &fresh.vary, request);
    let ttl = cache.policy.storage_ttl(&fresh, entry.has_validator());
    let vary: Arc<[http::HeaderName]> = fresh.vary.into();
    tokio::spawn(async move {
        if let Err(e) = cache
            .store
            .put(&primary, vary, &variant, Arc::new(entry), ttl)
            .await
        {
            tracing::debug!(error = %e, "cache entry not stored");
        }
        drop(guard);
    });
}

fn full(body: Bytes) -> Body {
    http_body_util::Full::new(body)
        .map_err(|never| match never {})
        .boxed()
}
