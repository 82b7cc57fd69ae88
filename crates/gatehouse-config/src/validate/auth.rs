//! Settings of the identity plugins: `key_auth`, `jwt`, `oauth2_introspection`, `mtls`, `rbac`
//! and `opa`.

use std::time::Duration;

use http::{HeaderName, Method};

use super::Ctx;
use super::identity::opt_bool;
use super::listener::set;
use super::scalar::{choice, duration, each, header_name, method, non_empty, string};
use super::walk::{Obj, join};
use crate::file::Node;
use crate::model::{
    CertificateField, KeyAuthConfig, MtlsConfig, RbacConfig, RedisFailure, RedisKeySource, RoleRule,
};

const KEY_AUTH_KEYS: &[&str] = &[
    "header",
    "authorization_scheme",
    "query_param",
    "keep_credential",
    "redis",
];

/// `key_auth: { header, authorization_scheme, query_param, keep_credential, redis }`.
pub(crate) fn key_auth(cx: &mut Ctx, node: &Node, path: &str) -> Option<KeyAuthConfig> {
    let obj = Obj::new(cx, node, path, KEY_AUTH_KEYS)?;
    let mut c = KeyAuthConfig {
        header: HeaderName::from_static("x-api-key"),
        authorization_scheme: true,
        query_param: None,
        keep_credential: false,
        redis: None,
    };
    let mut ok = true;
    if let Some(n) = obj.get("header") {
        ok &= set(&mut c.header, header_name(cx, n, &obj.at("header")));
    }
    ok &= set(
        &mut c.authorization_scheme,
        opt_bool(cx, &obj, "authorization_scheme", true),
    );
    if let Some(n) = obj.get("query_param") {
        let q = non_empty(cx, n, &obj.at("query_param"));
        ok &= q.is_some();
        c.query_param = q;
    }
    ok &= set(
        &mut c.keep_credential,
        opt_bool(cx, &obj, "keep_credential", false),
    );
    if let Some(n) = obj.get("redis") {
        let r = redis(cx, n, &obj.at("redis"));
        ok &= r.is_some();
        c.redis = r;
    }
    ok.then_some(c)
}

const REDIS_KEYS: &[&str] = &[
    "url",
    "prefix",
    "timeout",
    "cache_ttl",
    "negative_ttl",
    "cache_size",
    "on_error",
];

fn redis(cx: &mut Ctx, node: &Node, path: &str) -> Option<RedisKeySource> {
    let obj = Obj::new(cx, node, path, REDIS_KEYS)?;
    let url = obj
        .req(cx, "url")
        .and_then(|n| redis_url(cx, n, &obj.at("url")));
    let mut r = RedisKeySource {
        url: String::new(),
        prefix: "apikey:".to_owned(),
        timeout: Duration::from_millis(50),
        cache_ttl: Duration::from_secs(30),
        negative_ttl: Duration::from_secs(5),
        cache_size: 100_000,
        on_error: RedisFailure::ServeFromCache,
    };
    let mut ok = url.is_some();
    if let Some(n) = obj.get("prefix") {
        ok &= set(&mut r.prefix, string(cx, n, &obj.at("prefix")));
    }
    if let Some(n) = obj.get("timeout") {
        ok &= set(
            &mut r.timeout,
            super::scalar::positive_duration(cx, n, &obj.at("timeout")),
        );
    }
    for (key, slot) in [
        ("cache_ttl", &mut r.cache_ttl),
        ("negative_ttl", &mut r.negative_ttl),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, duration(cx, n, &obj.at(key)));
        }
    }
    if let Some(n) = obj.get("cache_size") {
        let size = super::scalar::integer(cx, n, &obj.at("cache_size"), 0, u32::MAX.into());
        ok &= set(&mut r.cache_size, size.and_then(|v| u64::try_from(v).ok()));
    }
    if let Some(n) = obj.get("on_error") {
        let options = [
            ("serve_from_cache", RedisFailure::ServeFromCache),
            ("deny", RedisFailure::Deny),
        ];
        ok &= set(
            &mut r.on_error,
            choice(cx, n, &obj.at("on_error"), &options),
        );
    }
    r.url = url?;
    ok.then_some(r)
}

/// `redis://host[:port][/db]`, `rediss://…` or `redis+unix:///path`. The URL may hold a password,
/// so it is never shown.
fn redis_url(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = string(cx, node, path)?;
    let url = text.trim();
    let tcp = ["redis://", "rediss://"].iter().any(|scheme| {
        url.strip_prefix(scheme).is_some_and(|rest| {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            !host.is_empty() && !host.starts_with(':')
        })
    });
    let unix = ["redis+unix://", "unix://"]
        .iter()
        .any(|scheme| url.strip_prefix(scheme).is_some_and(|p| p.starts_with('/')));
    let valid = (tcp || unix) && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        cx.error_hint(
            node,
            path,
            "invalid Redis URL (not shown: it may hold a password)",
            "write `redis://host:port/db`, `rediss://host:port` or `redis+unix:///path/to/socket`",
        );
        return None;
    }
    Some(url.to_owned())
}

/// `rbac: { any_of, all_of, methods: { METHOD: { any_of, all_of } } }`.
pub(crate) fn rbac(cx: &mut Ctx, node: &Node, path: &str) -> Option<RbacConfig> {
    let obj = Obj::new(cx, node, path, &["any_of", "all_of", "methods"])?;
    let default = role_rule_of(cx, &obj);
    let methods = match obj.get("methods") {
        Some(n) => per_method(cx, n, &obj.at("methods")),
        None => Some(Vec::new()),
    };
    let (default, methods) = (default?, methods?);
    let empty = |r: &RoleRule| r.any_of.is_empty() && r.all_of.is_empty();
    if empty(&default) && methods.iter().all(|(_, r)| empty(r)) {
        cx.error_hint(
            node,
            path,
            "`rbac` requires no role: it would allow every request",
            "add `any_of: [role, ...]`, `all_of: [role, ...]` or per-method rules under `methods`",
        );
        return None;
    }
    Some(RbacConfig { default, methods })
}

fn role_rule_of(cx: &mut Ctx, obj: &Obj<'_>) -> Option<RoleRule> {
    let mut rule = RoleRule::default();
    let mut ok = true;
    for (key, slot) in [("any_of", &mut rule.any_of), ("all_of", &mut rule.all_of)] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, each(cx, n, &obj.at(key), non_empty));
        }
    }
    ok.then_some(rule)
}

fn per_method(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<(Method, RoleRule)>> {
    let obj = Obj::any_keys(cx, node, path, "a map of method to `{ any_of, all_of }`")?;
    let mut out: Vec<(Method, RoleRule)> = Vec::new();
    let mut ok = true;
    for (name, key, value) in obj.entries() {
        let p = join(path, &name);
        let m = method(cx, key, &p);
        let rule =
            Obj::new(cx, value, &p, &["any_of", "all_of"]).and_then(|o| role_rule_of(cx, &o));
        match (m, rule) {
            (Some(m), Some(rule)) => {
                if out.iter().any(|(other, _)| *other == m) {
                    cx.error_hint(
                        key,
                        &p,
                        format!("method `{m}` has two rules"),
                        "method names are case-insensitive; keep one rule per method",
                    );
                    ok = false;
                } else {
                    out.push((m, rule));
                }
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// `mtls: { match_on: [uri_san, dns_san, common_name], require_consumer }`.
pub(crate) fn mtls(cx: &mut Ctx, node: &Node, path: &str) -> Option<MtlsConfig> {
    let obj = Obj::new(cx, node, path, &["match_on", "require_consumer"])?;
    let options = [
        ("uri_san", CertificateField::UriSan),
        ("dns_san", CertificateField::DnsSan),
        ("common_name", CertificateField::CommonName),
    ];
    let match_on = match obj.get("match_on") {
        Some(n) => {
            let p = obj.at("match_on");
            each(cx, n, &p, |cx, n, p| choice(cx, n, p, &options)).and_then(|fields| {
                if fields.is_empty() {
                    cx.error_hint(
                        n,
                        &p,
                        "`match_on` must name at least one field",
                        "use `uri_san`, `dns_san` and/or `common_name`",
                    );
                    return None;
                }
                let mut out: Vec<CertificateField> = Vec::new();
                for f in fields {
                    if !out.contains(&f) {
                        out.push(f);
                    }
                }
                Some(out)
            })
        }
        None => Some(options.iter().map(|(_, f)| *f).collect()),
    };
    let require_consumer = opt_bool(cx, &obj, "require_consumer", false);
    Some(MtlsConfig {
        match_on: match_on?,
        require_consumer: require_consumer?,
    })
}
