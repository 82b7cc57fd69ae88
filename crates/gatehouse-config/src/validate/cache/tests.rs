//! The `cache` plugin's settings: the model, the defaults, and each error with its location.

use std::time::Duration;

use http::{HeaderName, Method};

use crate::model::*;
use crate::validate::tests::{BASE, errors, ok, one_error};

/// The global `cache` settings of `config`.
fn cache(config: &Config) -> &CacheConfig {
    match config.plugins.first().map(|p| &p.config) {
        Some(PluginConfig::Cache(c)) => c,
        other => panic!("expected a cache plugin, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = ok(&format!("{BASE}plugins:\n  - cache: {{}}\n"));
    assert_eq!(*cache(&c), CacheConfig::default());
    let d = CacheConfig::default();
    assert_eq!((d.max_size, d.max_body), (256 << 20, 1 << 20));
    assert_eq!(d.methods, [Method::GET, Method::HEAD]);
    assert_eq!(d.statuses, [200, 301, 404]);
    assert!(!d.cache_authenticated && !d.honor_client_no_cache && !d.key.consumer);
}

#[test]
fn full_parse() {
    let text = format!(
        "{BASE}plugins:
  - cache:
      backend: redis
      redis: {{ url: \"redis://:pw@cache.internal:6379/1\", prefix: \"gh:\", timeout: 20ms }}
      max_size: 64MiB
      max_body: 512KiB
      methods: [GET, HEAD, POST]
      statuses: [200, 203, 404, 410]
      default_ttl: 30s
      max_ttl: 1h
      force_ttl: 5m
      stale_while_revalidate: 10s
      stale_if_error: 1m
      key: {{ headers: [Accept-Language], consumer: true }}
      cache_authenticated: true
      honor_client_no_cache: true
      lock_timeout: 2s
"
    );
    let c = ok(&text);
    let got = cache(&c);
    assert_eq!(
        got.backend,
        CacheBackend::Redis(CacheRedis {
            url: "redis://:pw@cache.internal:6379/1".into(),
            prefix: "gh:".into(),
            timeout: Duration::from_millis(20),
        })
    );
    assert_eq!((got.max_size, got.max_body), (64 << 20, 512 << 10));
    assert_eq!(got.methods, [Method::GET, Method::HEAD, Method::POST]);
    assert_eq!(got.statuses, [200, 203, 404, 410]);
    assert_eq!(got.default_ttl, Duration::from_secs(30));
    assert_eq!(got.max_ttl, Some(Duration::from_secs(3600)));
    assert_eq!(got.force_ttl, Some(Duration::from_secs(300)));
    assert_eq!(got.stale_while_revalidate, Duration::from_secs(10));
    assert_eq!(got.stale_if_error, Duration::from_secs(60));
    assert_eq!(
        got.key.headers,
        [HeaderName::from_static("accept-language")]
    );
    assert!(got.key.consumer && got.cache_authenticated && got.honor_client_no_cache);
    assert_eq!(got.lock_timeout, Duration::from_secs(2));
}

#[test]
fn unknown_key_is_located() {
    // BASE has 6 lines: `plugins:` is line 7, the cache map line 8.
    let d = one_error(
        &format!("{BASE}plugins:\n  - cache: {{ ttl: 5s }}\n"),
        8,
        14,
        "plugins[0].cache.ttl",
    );
    assert!(d.message.contains("ttl"), "{d:?}");
}

#[test]
fn every_error_at_once() {
    let text = format!(
        "{BASE}plugins:
  - cache:
      backend: disk
      max_size: 0
      statuses: [99]
      key: {{ headers: [\"bad header\"] }}
      lock_timeout: soon
"
    );
    let paths: Vec<String> = errors(&text).into_iter().map(|d| d.path).collect();
    for p in [
        "plugins[0].cache.backend",
        "plugins[0].cache.max_size",
        "plugins[0].cache.statuses[0]",
        "plugins[0].cache.key.headers[0]",
        "plugins[0].cache.lock_timeout",
    ] {
        assert!(
            paths.iter().any(|got| got == p),
            "{p} missing from {paths:?}"
        );
    }
}

#[test]
fn redis_backend_needs_its_settings_and_hides_the_url() {
    let d = one_error(
        &format!("{BASE}plugins:\n  - cache: {{ backend: redis }}\n"),
        8,
        23,
        "plugins[0].cache.backend",
    );
    assert!(d.hint.is_some());
    let text = format!(
        "{BASE}plugins:\n  - cache: {{ backend: redis, redis: {{ url: \"http://:secret@x\" }} }}\n"
    );
    let diags = errors(&text);
    assert!(
        diags.iter().all(|d| !d.message.contains("secret")),
        "{diags:?}"
    );
    let d = one_error(
        &format!("{BASE}plugins:\n  - cache: {{ redis: {{ url: \"redis://x\" }} }}\n"),
        8,
        21,
        "plugins[0].cache.redis",
    );
    assert!(d.message.contains("backend: redis"), "{d:?}");
}
