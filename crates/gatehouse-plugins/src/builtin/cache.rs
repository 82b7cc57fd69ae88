//! `cache`: an HTTP response cache (`docs/caching.md`). The plugin takes part in no phase; it
//! provides the chain's [`ResponseCache`] stage, which the data plane runs after the access phase.

use std::sync::Arc;

use async_trait::async_trait;
use gatehouse_cache::{HttpCache, Outcome, RequestFacts, X_CACHE};
use gatehouse_config::model::CacheConfig;
use gatehouse_router::{host_of, normalize_path};
use http::request;

use crate::response_cache::{CacheLookup, CachePurge, CacheStats, ResponseCache};
use crate::{Phases, Plugin, RequestContext};

/// The `cache` plugin.
pub struct Cache {
    stage: Arc<CacheStage>,
}

/// The stage the data plane calls.
struct CacheStage {
    cache: Arc<HttpCache>,
}

impl Cache {
    /// Builds the cache (a Redis backend connects lazily). Fails only on an invalid Redis URL.
    pub fn new(cfg: &CacheConfig) -> crate::Result<Cache> {
        let cache = HttpCache::new(cfg).map_err(|e| crate::Error::Build {
            plugin: "cache",
            message: e.to_string(),
        })?;
        Ok(Cache {
            stage: Arc::new(CacheStage { cache }),
        })
    }
}

impl Plugin for Cache {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn priority(&self) -> i32 {
        0
    }

    fn phases(&self) -> Phases {
        Phases::empty()
    }

    fn response_cache(&self) -> Option<Arc<dyn ResponseCache>> {
        Some(self.stage.clone())
    }
}

#[async_trait]
impl ResponseCache for CacheStage {
    async fn lookup(&self, cx: &mut RequestContext, req: &request::Parts) -> CacheLookup {
        let Ok(path) = normalize_path(req.uri.path()) else {
            return CacheLookup::Bypass;
        };
        let host = req.uri.host().map(host_of).or_else(|| {
            req.headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(host_of)
        });
        let identity = cx.identity.as_ref().filter(|i| !i.anonymous);
        let facts = RequestFacts {
            method: &req.method,
            host: host.as_deref(),
            path: &path,
            query: req.uri.query(),
            headers: &req.headers,
            authenticated: identity.is_some(),
            consumer: identity.and_then(|i| i.consumer_id.as_deref()),
            route: cx.route.as_ref(),
        };
        let lookup = self.cache.lookup(&facts).await;
        if let CacheLookup::Bypass = lookup {
            cx.response_headers
                .insert(&X_CACHE, Outcome::Bypass.header());
        }
        lookup
    }

    async fn purge(&self, purge: &CachePurge) -> Result<u64, String> {
        self.cache.purge(purge).await.map_err(|e| e.to_string())
    }

    fn stats(&self) -> CacheStats {
        self.cache.stats()
    }
}
