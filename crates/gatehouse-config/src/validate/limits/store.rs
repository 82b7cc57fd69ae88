//! `store:`: where shared state lives (the Redis that `rate_limit` uses with `backend: redis`).

use std::time::Duration;

use super::super::Ctx;
use super::super::listener::set;
use super::super::scalar::{choice, integer, positive_duration, string};
use super::super::walk::Obj;
use crate::file::Node;
use crate::model::{RedisStore, StoreConfig, StoreFailure};

/// `store: { redis: { ... } }`.
pub(crate) fn store(cx: &mut Ctx, node: &Node, path: &str) -> Option<StoreConfig> {
    let obj = Obj::new(cx, node, path, &["redis"])?;
    let mut c = StoreConfig::default();
    if let Some(n) = obj.get("redis") {
        cx.store_redis = true;
        c.redis = Some(redis(cx, n, &obj.at("redis"))?);
    }
    Some(c)
}

const REDIS_KEYS: &[&str] = &["url", "timeout", "connections", "on_failure", "retry_after"];

fn redis(cx: &mut Ctx, node: &Node, path: &str) -> Option<RedisStore> {
    let obj = Obj::new(cx, node, path, REDIS_KEYS)?;
    let url = obj
        .req(cx, "url")
        .and_then(|n| redis_url(cx, n, &obj.at("url")));
    let mut r = RedisStore {
        url: String::new(),
        timeout: Duration::from_millis(20),
        connections: 2,
        on_failure: StoreFailure::Local,
        retry_after: Duration::from_secs(1),
    };
    let mut ok = true;
    for (key, slot) in [
        ("timeout", &mut r.timeout),
        ("retry_after", &mut r.retry_after),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, positive_duration(cx, n, &obj.at(key)));
        }
    }
    if let Some(n) = obj.get("connections") {
        let v = integer(cx, n, &obj.at("connections"), 1, 64);
        ok &= set(&mut r.connections, v.and_then(|v| usize::try_from(v).ok()));
    }
    if let Some(n) = obj.get("on_failure") {
        let options = [
            ("fail_open", StoreFailure::FailOpen),
            ("fail_closed", StoreFailure::FailClosed),
            ("local", StoreFailure::Local),
        ];
        ok &= set(
            &mut r.on_failure,
            choice(cx, n, &obj.at("on_failure"), &options),
        );
    }
    r.url = url?;
    ok.then_some(r)
}

/// `redis://host[:port][/db]` or `rediss://…`. The URL may hold a password, so it is never shown.
fn redis_url(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = string(cx, node, path)?;
    let url = text.trim();
    let valid = ["redis://", "rediss://"].iter().any(|scheme| {
        url.strip_prefix(scheme).is_some_and(|rest| {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            !host.is_empty() && !host.starts_with(':')
        })
    }) && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        cx.error_hint(
            node,
            path,
            "invalid Redis URL (not shown: it may hold a password)",
            "write `redis://host:port/db` or `rediss://host:port` (TLS)",
        );
        return None;
    }
    Some(url.to_owned())
}
