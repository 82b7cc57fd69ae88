//! A remote key set (JWKS URL or OpenID discovery): fetched in the background from the first
//! use, cached for `Cache-Control: max-age` clamped to `[min_refresh, max_refresh]`, refetched on
//! an unknown `kid` at most once per `unknown_kid_interval` (concurrent unknown kids share one
//! fetch), and the last good keys kept whenever a fetch fails.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use gatehouse_config::model::JwksSource;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use super::fetch;
use super::keys::KeySet;
use crate::http_client::HttpClient;

/// Longest pause between retries while the endpoint fails.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// The cached key set of one issuer's JWKS endpoint.
pub struct RemoteKeys {
    source: JwksSource,
    client: HttpClient,
    /// `Some(issuer)`: `source.url` is a discovery document whose `issuer` must equal this.
    discovery_issuer: Option<String>,
    keys: ArcSwapOption<KeySet>,
    /// Bumped on every successful fetch (waiters watch it).
    generation: watch::Sender<u64>,
    /// Set once the first background fetch has ended, successfully or not.
    first_attempt_done: watch::Sender<bool>,
    /// Held for the whole of a fetch: fetches never overlap.
    fetching: Mutex<FetchState>,
    started: AtomicBool,
    fetches: AtomicU64,
}

#[derive(Default)]
struct FetchState {
    last_unknown_kid_fetch: Option<Instant>,
    jwks_uri: Option<String>,
}

impl RemoteKeys {
    /// The key set for `source`, shared with every live configuration that names the same source
    /// with the same knobs: a reloaded configuration keeps the keys (and the refresh schedule) of
    /// the one it replaces, so a JWKS endpoint that is down during a reload costs nothing.
    pub fn shared(
        source: JwksSource,
        discovery_issuer: Option<String>,
    ) -> Result<Arc<RemoteKeys>, String> {
        static LIVE: std::sync::Mutex<Option<HashMap<String, Weak<RemoteKeys>>>> =
            std::sync::Mutex::new(None);
        let id = format!("{source:?}/{discovery_issuer:?}");
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let live = live.get_or_insert_with(HashMap::new);
        if let Some(keys) = live.get(&id).and_then(Weak::upgrade) {
            return Ok(keys);
        }
        live.retain(|_, w| w.strong_count() > 0);
        let keys = RemoteKeys::new(source, discovery_issuer)?;
        live.insert(id, Arc::downgrade(&keys));
        Ok(keys)
    }

    /// A key set fetched from `source` (a discovery document when `discovery_issuer` is set).
    /// Fetching starts in the background at once when a Tokio runtime is running, else on first
    /// use: building never waits on the network.
    pub fn new(
        source: JwksSource,
        discovery_issuer: Option<String>,
    ) -> Result<Arc<RemoteKeys>, String> {
        HttpClient::parse_url(&source.url).map_err(|e| e.to_string())?;
        let client = HttpClient::new(source.timeout).map_err(|e| e.to_string())?;
        let keys = Arc::new(RemoteKeys {
            source,
            client,
            discovery_issuer,
            keys: ArcSwapOption::empty(),
            generation: watch::Sender::new(0),
            first_attempt_done: watch::Sender::new(false),
            fetching: Mutex::new(FetchState::default()),
            started: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
        });
        keys.start();
        Ok(keys)
    }

    /// Number of fetch attempts so far (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn start(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(refresh_loop(Arc::downgrade(self)));
    }

    /// The keys to verify a token naming `kid` with. Before the first fetch has ended this waits
    /// for it at most `timeout` (once it has failed, requests without keys are refused at once
    /// until a retry succeeds). A `kid` not in the set triggers one refetch unless one happened
    /// within `unknown_kid_interval`. `None`: no keys could be obtained.
    pub async fn keys_for(self: &Arc<Self>, kid: Option<&str>) -> Option<Arc<KeySet>> {
        self.start();
        let mut seen = *self.generation.borrow();
        let mut current = self.keys.load_full();
        if current.is_none() {
            let mut rx = self.first_attempt_done.subscribe();
            let _ = tokio::time::timeout(self.source.timeout, rx.wait_for(|done| *done)).await;
            seen = *self.generation.borrow();
            current = self.keys.load_full();
        }
        let current = current?;
        match kid {
            Some(kid) if !current.has_kid(kid) => {
                self.refetch_unknown_kid(seen).await;
                self.keys.load_full()
            }
            _ => Some(current),
        }
    }

    async fn refetch_unknown_kid(&self, seen: u64) {
        // Bounded: the holder's fetch is itself bounded by `timeout`.
        let Ok(mut state) =
            tokio::time::timeout(self.source.timeout * 2, self.fetching.lock()).await
        else {
            return;
        };
        if *self.generation.borrow() != seen {
            return; // someone fetched while we waited: use that
        }
        let now = Instant::now();
        if state
            .last_unknown_kid_fetch
            .is_some_and(|t| now.duration_since(t) < self.source.unknown_kid_interval)
        {
            return;
        }
        state.last_unknown_kid_fetch = Some(now);
        if let Err(e) = self.fetch(&mut state).await {
            tracing::warn!(url = %self.source.url, error = %e, "JWKS refetch (unknown kid) failed; keeping last good keys");
        }
    }

    /// One fetch (the caller holds `fetching`): returns the cache lifetime to use.
    async fn fetch(&self, state: &mut FetchState) -> Result<Duration, String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let jwks_uri = match (&self.discovery_issuer, &state.jwks_uri) {
            (None, _) => self.source.url.clone(),
            (Some(_), Some(uri)) => uri.clone(),
            (Some(issuer), None) => {
                let uri = self.discover(issuer).await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let (headers, body) = fetch::get(&self.client, &jwks_uri, self.source.timeout).await?;
        let set = KeySet::from_jwks(&body)?;
        if set.keys.is_empty() {
            return Err("JWKS has no usable signature key".to_owned());
        }
        self.keys.store(Some(Arc::new(set)));
        self.generation.send_modify(|g| *g += 1);
        let ttl = fetch::max_age(&headers).unwrap_or(self.source.min_refresh);
        Ok(ttl.clamp(
            self.source.min_refresh,
            self.source.max_refresh.max(self.source.min_refresh),
        ))
    }

    async fn discover(&self, issuer: &str) -> Result<String, String> {
        let (_, body) = fetch::get(&self.client, &self.source.url, self.source.timeout).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("discovery is not JSON: {e}"))?;
        if doc.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
            return Err("discovery document's issuer differs from the configured one".to_owned());
        }
        doc.get("jwks_uri")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| "discovery document has no jwks_uri".to_owned())
    }
}

/// Fetches, sleeps for the cache lifetime (or a growing retry delay after a failure), repeats;
/// ends when the key set is dropped (the configuration was replaced).
async fn refresh_loop(keys: Weak<RemoteKeys>) {
    let mut retry = Duration::from_millis(500);
    loop {
        let Some(this) = keys.upgrade() else { return };
        let outcome = {
            let mut state = this.fetching.lock().await;
            this.fetch(&mut state).await
        };
        this.first_attempt_done.send_replace(true);
        let pause = match outcome {
            Ok(ttl) => {
                retry = Duration::from_millis(500);
                ttl
            }
            Err(e) => {
                tracing::warn!(url = %this.source.url, error = %e, "JWKS fetch failed; keeping last good keys");
                let pause = retry.min(this.source.min_refresh.max(Duration::from_millis(100)));
                retry = (retry * 2).min(MAX_RETRY);
                pause
            }
        };
        drop(this);
        tokio::time::sleep(pause).await;
    }
}
