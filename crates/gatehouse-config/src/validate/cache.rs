//! The `cache` plugin's settings (`docs/caching.md`).

use std::time::Duration;

use super::listener::set;
use super::scalar::{
    boolean, choice, duration, each, header_names, methods, non_empty, positive_duration, size,
    status,
};
use super::walk::Obj;
use super::{Ctx, auth};
use crate::file::Node;
use crate::model::{CacheBackend, CacheConfig, CacheKeyConfig, CacheRedis};

const KEYS: &[&str] = &[
    "backend",
    "redis",
    "max_size",
    "max_body",
    "methods",
    "statuses",
    "default_ttl",
    "max_ttl",
    "force_ttl",
    "stale_while_revalidate",
    "stale_if_error",
    "key",
    "cache_authenticated",
    "honor_client_no_cache",
    "lock_timeout",
];

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Memory,
    Redis,
}

/// `cache: { … }`.
pub(crate) fn cache(cx: &mut Ctx, node: &Node, path: &str) -> Option<CacheConfig> {
    let obj = Obj::new(cx, node, path, KEYS)?;
    let mut c = CacheConfig::default();
    let mut ok = true;
    let mut backend = Backend::Memory;
    if let Some(n) = obj.get("backend") {
        let options = [("memory", Backend::Memory), ("redis", Backend::Redis)];
        ok &= set(&mut backend, choice(cx, n, &obj.at("backend"), &options));
    }
    let redis = match obj.get("redis") {
        Some(n) => {
            let r = redis(cx, n, &obj.at("redis"));
            ok &= r.is_some();
            r
        }
        None => None,
    };
    match (backend, redis) {
        (Backend::Redis, Some(r)) => c.backend = CacheBackend::Redis(r),
        (Backend::Redis, None) if ok => {
            cx.error_hint(
                obj.get("backend").unwrap_or(node),
                &obj.at("backend"),
                "`backend: redis` needs `redis: { url: … }`",
                "add `redis: { url: redis://host:6379 }` beside `backend`",
            );
            ok = false;
        }
        (Backend::Memory, Some(_)) => {
            if let Some(n) = obj.get("redis") {
                cx.error_hint(
                    n,
                    &obj.at("redis"),
                    "`redis` is only used with `backend: redis`",
                    "add `backend: redis`, or remove `redis`",
                );
            }
            ok = false;
        }
        _ => {}
    }
    for (key, slot) in [("max_size", &mut c.max_size), ("max_body", &mut c.max_body)] {
        if let Some(n) = obj.get(key) {
            let v = size(cx, n, &obj.at(key));
            if v == Some(0) {
                cx.error(n, &obj.at(key), "must be greater than zero");
                ok = false;
            } else {
                ok &= set(slot, v);
            }
        }
    }
    if let Some(n) = obj.get("methods") {
        ok &= set(&mut c.methods, methods(cx, n, &obj.at("methods")));
    }
    if let Some(n) = obj.get("statuses") {
        ok &= set(&mut c.statuses, each(cx, n, &obj.at("statuses"), status));
    }
    for (key, slot) in [
        ("default_ttl", &mut c.default_ttl),
        ("stale_while_revalidate", &mut c.stale_while_revalidate),
        ("stale_if_error", &mut c.stale_if_error),
        ("lock_timeout", &mut c.lock_timeout),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, duration(cx, n, &obj.at(key)));
        }
    }
    for (key, slot) in [("max_ttl", &mut c.max_ttl), ("force_ttl", &mut c.force_ttl)] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, duration(cx, n, &obj.at(key)).map(Some));
        }
    }
    for (key, slot) in [
        ("cache_authenticated", &mut c.cache_authenticated),
        ("honor_client_no_cache", &mut c.honor_client_no_cache),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, boolean(cx, n, &obj.at(key)));
        }
    }
    if let Some(n) = obj.get("key") {
        ok &= set(&mut c.key, key(cx, n, &obj.at("key")));
    }
    ok.then_some(c)
}

fn key(cx: &mut Ctx, node: &Node, path: &str) -> Option<CacheKeyConfig> {
    let obj = Obj::new(cx, node, path, &["headers", "consumer"])?;
    let mut k = CacheKeyConfig::default();
    let mut ok = true;
    if let Some(n) = obj.get("headers") {
        ok &= set(&mut k.headers, header_names(cx, n, &obj.at("headers")));
    }
    if let Some(n) = obj.get("consumer") {
        ok &= set(&mut k.consumer, boolean(cx, n, &obj.at("consumer")));
    }
    ok.then_some(k)
}

fn redis(cx: &mut Ctx, node: &Node, path: &str) -> Option<CacheRedis> {
    let obj = Obj::new(cx, node, path, &["url", "prefix", "timeout"])?;
    let url = obj
        .req(cx, "url")
        .and_then(|n| auth::redis_url(cx, n, &obj.at("url")));
    let mut r = CacheRedis {
        url: String::new(),
        prefix: "gatehouse:cache:".to_owned(),
        timeout: Duration::from_millis(50),
    };
    let mut ok = true;
    if let Some(n) = obj.get("prefix") {
        ok &= set(&mut r.prefix, non_empty(cx, n, &obj.at("prefix")));
    }
    if let Some(n) = obj.get("timeout") {
        ok &= set(&mut r.timeout, positive_duration(cx, n, &obj.at("timeout")));
    }
    r.url = url?;
    ok.then_some(r)
}

#[cfg(test)]
mod tests;
