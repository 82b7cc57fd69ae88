//! The cache of one `cache` plugin instance: lookups (fresh hit, stale-while-revalidate,
//! coalesced miss) and the [`Fill`] that completes a miss with the upstream's response.

mod fill;

pub use fill::Fill;

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gatehouse_config::model::{CacheBackend, CacheConfig};
use http::{HeaderMap, Method, Response};

use crate::answer::{self, Outcome};
use crate::flight::{Flights, Join};
use crate::key::{self, KeyInput};
use crate::metrics::{CacheMetrics, CacheStats};
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::store::{Purge, Store};
use crate::{Entry, Error, Policy};

/// What the data plane knows of a request once its access phase has passed.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// Method.
    pub method: &'a Method,
    /// Host the client addressed.
    pub host: Option<&'a str>,
    /// Normalized path.
    pub path: &'a str,
    /// Raw query.
    pub query: Option<&'a str>,
    /// Request headers (client-sent identity headers already removed).
    pub headers: &'a HeaderMap,
    /// Whether a non-anonymous identity was established.
    pub authenticated: bool,
    /// Its consumer id, if any.
    pub consumer: Option<&'a str>,
    /// The matched route.
    pub route: Option<&'a Arc<str>>,
}

/// The result of [`HttpCache::lookup`].
pub enum Lookup {
    /// Answer with this stored response.
    Hit(Response<Bytes>),
    /// Answer with this stale response now, and complete the [`Fill`] in the background.
    Refresh(Response<Bytes>, Fill),
    /// Go upstream and complete the [`Fill`] with the response.
    Miss(Fill),
    /// Go upstream untouched (answer with `X-Cache: BYPASS`).
    Bypass,
}

/// One `cache` plugin instance's storage, rules, in-flight requests and counters.
pub struct HttpCache {
    pub(crate) policy: Policy,
    pub(crate) store: Store,
    flights: Arc<Flights>,
    pub(crate) metrics: CacheMetrics,
}

impl HttpCache {
    /// Builds the cache `cfg` describes. Fails only on an invalid Redis URL. Must be called within
    /// a Tokio runtime when the backend is Redis.
    pub fn new(cfg: &CacheConfig) -> Result<Arc<HttpCache>, Error> {
        let metrics = CacheMetrics::default();
        let store = match &cfg.backend {
            CacheBackend::Memory => {
                Store::Memory(MemoryStore::new(cfg.max_size, metrics.evictions.clone()))
            }
            CacheBackend::Redis(r) => Store::Redis(RedisStore::new(r)?),
        };
        Ok(Arc::new(HttpCache {
            policy: Policy::new(cfg),
            store,
            flights: Arc::new(Flights::default()),
            metrics,
        }))
    }

    /// The outcome counters.
    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// Counters and usage now.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            requests: self.metrics.counts(),
            evictions: self.metrics.evictions.get(),
            usage: match &self.store {
                Store::Memory(m) => Some(m.usage()),
                Store::Redis(_) => None,
            },
        }
    }

    /// Removes what `purge` names; returns how many entries went.
    pub async fn purge(&self, purge: &Purge) -> Result<u64, Error> {
        self.store.purge(purge).await
    }

    /// Looks `r` up. Never fails: a backend error is a bypass.
    pub async fn lookup(self: &Arc<Self>, r: &RequestFacts<'_>) -> Lookup {
        let counters = self.metrics.route(r.route);
        let cfg = self.policy.config();
        let bypass = || {
            counters.count(Outcome::Bypass);
            Lookup::Bypass
        };
        if !self.policy.method_cacheable(r.method) {
            return bypass();
        }
        let consumer = match (r.authenticated, cfg.key.consumer, r.consumer) {
            (false, _, _) => None,
            (true, true, Some(id)) => Some(id),
            // Authenticated without a consumer id cannot get a per-consumer entry.
            (true, true, None) => return bypass(),
            (true, false, _) if cfg.cache_authenticated => None,
            (true, false, _) => return bypass(),
        };
        let primary = key::primary(&KeyInput {
            method: r.method,
            host: r.host,
            path: r.path,
            query: r.query,
            headers: r.headers,
            key_headers: &cfg.key.headers,
            consumer,
        });
        let head = *r.method == Method::HEAD;
        let revalidate = self.policy.client_no_cache(r.headers);
        let found = match self.find(&primary, r.headers).await {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(error = %e, "cache backend unavailable; bypassing");
                return bypass();
            }
        };
        let now = SystemTime::now();
        let fill = |stale: Option<Arc<Entry>>, guard| Fill {
            cache: self.clone(),
            primary: primary.clone(),
            request: r.headers.clone(),
            head,
            stale,
            guard,
            counters: counters.clone(),
        };
        if let Some((variant, entry)) = &found {
            if !revalidate && entry.is_fresh(now) {
                counters.count(Outcome::Hit);
                return Lookup::Hit(answer::from_entry(
                    entry,
                    Outcome::Hit,
                    r.headers,
                    head,
                    now,
                ));
            }
            if !revalidate && entry.staleness(now) < entry.stale_while_revalidate {
                counters.count(Outcome::Stale);
                let stale = answer::from_entry(entry, Outcome::Stale, r.headers, head, now);
                return match self.flights.join(variant) {
                    Join::Leader(g) => Lookup::Refresh(stale, fill(Some(entry.clone()), Some(g))),
                    Join::Follower(_) => Lookup::Hit(stale),
                };
            }
        }
        let stale = found.as_ref().map(|(_, e)| e.clone());
        if head {
            return Lookup::Miss(fill(stale, None));
        }
        let flight = found.as_ref().map_or(primary.as_str(), |(v, _)| v.as_str());
        match self.flights.join(flight) {
            Join::Leader(guard) => Lookup::Miss(fill(stale, Some(guard))),
            Join::Follower(follower) => {
                follower.wait(cfg.lock_timeout).await;
                if !revalidate && let Ok(Some((_, entry))) = self.find(&primary, r.headers).await {
                    let now = SystemTime::now();
                    if entry.is_fresh(now) {
                        counters.count(Outcome::Hit);
                        return Lookup::Hit(answer::from_entry(
                            &entry,
                            Outcome::Hit,
                            r.headers,
                            head,
                            now,
                        ));
                    }
                }
                Lookup::Miss(fill(stale, None))
            }
        }
    }

    /// The stored variant matching `request`, with its key.
    async fn find(
        &self,
        primary: &str,
        request: &HeaderMap,
    ) -> Result<Option<(String, Arc<Entry>)>, Error> {
        let Some(vary) = self.store.index(primary).await? else {
            return Ok(None);
        };
        let variant = key::variant(primary, &vary, request);
        Ok(self.store.entry(&variant).await?.map(|e| (variant, e)))
    }
}

#[cfg(test)]
mod tests;
