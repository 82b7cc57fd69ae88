//! The `cache` plugin's settings (issue 5, response cache).

use std::time::Duration;

use http::{HeaderName, Method};

/// `cache` plugin settings. See `docs/caching.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Where entries live. Default in-process memory.
    pub backend: CacheBackend,
    /// Memory backend: total bytes of all entries (keys, heads, bodies). Default 256 MiB.
    pub max_size: u64,
    /// Largest body stored; bigger responses are streamed through unstored. Default 1 MiB.
    pub max_body: u64,
    /// Request methods answered from the cache. Default GET and HEAD (HEAD shares GET's entry).
    pub methods: Vec<Method>,
    /// Response statuses stored. Default 200, 301, 404.
    pub statuses: Vec<u16>,
    /// Freshness when the response carries none (no `max-age`, `s-maxage`, `Expires`). Default 60 s;
    /// 0 = such responses are not stored.
    pub default_ttl: Duration,
    /// Upper bound of any freshness lifetime. Default none.
    pub max_ttl: Option<Duration>,
    /// Freshness used instead of the response's own. Default none.
    pub force_ttl: Option<Duration>,
    /// Serve stale while refreshing in the background, when the response says nothing. Default 0.
    pub stale_while_revalidate: Duration,
    /// Serve stale when the upstream fails, when the response says nothing. Default 0.
    pub stale_if_error: Duration,
    /// What the cache key is made of beyond method, host, path and query.
    pub key: CacheKeyConfig,
    /// Store responses to authenticated requests in an entry shared by every consumer. Default
    /// false: such requests bypass the cache unless `key.consumer` is true.
    pub cache_authenticated: bool,
    /// Let a client's `Cache-Control: no-cache` / `Pragma: no-cache` force a trip to the upstream.
    /// Default false (a client could otherwise defeat the cache at will).
    pub honor_client_no_cache: bool,
    /// How long concurrent misses of one key wait for the first one's response. Default 5 s.
    pub lock_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            backend: CacheBackend::Memory,
            max_size: 256 << 20,
            max_body: 1 << 20,
            methods: vec![Method::GET, Method::HEAD],
            statuses: vec![200, 301, 404],
            default_ttl: Duration::from_secs(60),
            max_ttl: None,
            force_ttl: None,
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            key: CacheKeyConfig::default(),
            cache_authenticated: false,
            honor_client_no_cache: false,
            lock_timeout: Duration::from_secs(5),
        }
    }
}

/// `key:` of the `cache` plugin.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CacheKeyConfig {
    /// Request headers whose values are part of the key (e.g. `accept-language`).
    pub headers: Vec<HeaderName>,
    /// Whether the authenticated consumer is part of the key (per-consumer entries).
    pub consumer: bool,
}

/// Where the `cache` plugin keeps its entries.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheBackend {
    /// In-process, bounded by `max_size`.
    Memory,
    /// Shared Redis.
    Redis(CacheRedis),
}

/// `backend: redis` settings (`redis:` of the `cache` plugin).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheRedis {
    /// `redis://` or `rediss://` URL.
    pub url: String,
    /// Prefix of every key. Default `gatehouse:cache:`.
    pub prefix: String,
    /// Bound of each Redis command; past it the request goes upstream as a miss. Default 50 ms.
    pub timeout: Duration,
}
