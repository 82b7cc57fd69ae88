//! The response-cache stage: what a plugin offers when it answers from stored responses.
//!
//! Plugin hooks only see heads, but a cache must also change the upstream request (validators),
//! replace the upstream's response (a 304 becomes the stored response, a 5xx may become a stale
//! one) and see the whole body (to store it). So a plugin may provide a [`ResponseCache`]
//! ([`crate::Plugin::response_cache`]); the chain compiler keeps the first one of a route's chain
//! and the data plane calls it after the access phase — without knowing which plugin it came from.

use std::sync::Arc;

use async_trait::async_trait;
use http::request;

use crate::RequestContext;

pub use gatehouse_cache::key;
pub use gatehouse_cache::metrics::encode as encode_stats;
pub use gatehouse_cache::{
    CacheStats, Fill as CacheFill, Lookup as CacheLookup, Purge as CachePurge,
};

/// A cache the data plane consults after the access phase (so cached responses are still
/// authenticated, authorized and counted).
#[async_trait]
pub trait ResponseCache: Send + Sync + 'static {
    /// Looks the request up. [`CacheLookup::Hit`]: answer with it. [`CacheLookup::Refresh`]:
    /// answer with the stale response and send the request upstream in the background, giving the
    /// response to the fill. [`CacheLookup::Miss`]: call [`CacheFill::prepare`] on the upstream
    /// request's headers, then [`CacheFill::response`] with the response (or
    /// [`CacheFill::failed`] when the call failed). [`CacheLookup::Bypass`]: proceed as usual.
    async fn lookup(&self, cx: &mut RequestContext, req: &request::Parts) -> CacheLookup;

    /// Removes stored responses; returns how many. Errors are the backend's, for the operator.
    async fn purge(&self, purge: &CachePurge) -> Result<u64, String>;

    /// Counters and usage, for the metrics exposition.
    fn stats(&self) -> CacheStats;
}

/// Every distinct response cache among `chains` (a global cache shared by routes counts once).
pub fn distinct<'a>(
    chains: impl IntoIterator<Item = &'a crate::Chain>,
) -> Vec<Arc<dyn ResponseCache>> {
    let mut out: Vec<Arc<dyn ResponseCache>> = Vec::new();
    for cache in chains.into_iter().filter_map(|c| c.response_cache()) {
        if !out.iter().any(|c| Arc::ptr_eq(c, cache)) {
            out.push(cache.clone());
        }
    }
    out
}
