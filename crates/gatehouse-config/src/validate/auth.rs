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
    CertificateField, ExternalOpa, IntrospectionConfig, IntrospectionFailure, JwksSource,
    JwtConfig, JwtIssuer, JwtKeys, KeyAuthConfig, MtlsConfig, OpaConfig, RbacConfig, RedisFailure,
    RedisKeySource, RoleRule, TokenSource,
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
pub(crate) fn redis_url(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
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

/// Every algorithm a `jwt` issuer may pin.
const ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

const JWT_KEYS: &[&str] = &[
    "issuers",
    "sources",
    "leeway",
    "max_token_bytes",
    "keep_credential",
    "roles_claim",
];

/// `jwt: { issuers, sources, leeway, max_token_bytes, keep_credential, roles_claim }`.
pub(crate) fn jwt(cx: &mut Ctx, node: &Node, path: &str) -> Option<JwtConfig> {
    let obj = Obj::new(cx, node, path, JWT_KEYS)?;
    let issuers = obj.req(cx, "issuers").and_then(|n| {
        let p = obj.at("issuers");
        let issuers = each(cx, n, &p, issuer)?;
        if issuers.is_empty() {
            cx.error_hint(
                n,
                &p,
                "at least one issuer is required",
                "add `- { issuer: \"https://idp.example.com/\", algorithms: [RS256], keys: { jwks_url: ... } }`",
            );
            return None;
        }
        Some(issuers)
    });
    let mut c = JwtConfig {
        issuers: Vec::new(),
        sources: vec![TokenSource::Bearer],
        leeway: Duration::from_secs(30),
        max_token_bytes: 8 * 1024,
        keep_credential: false,
        roles_claim: Some("scope".to_owned()),
    };
    let mut ok = true;
    if let Some(n) = obj.get("sources") {
        let p = obj.at("sources");
        let sources = each(cx, n, &p, token_source).and_then(|s| {
            if s.is_empty() {
                cx.error_hint(
                    n,
                    &p,
                    "at least one token source is required",
                    "e.g. `[bearer]`",
                );
                return None;
            }
            Some(s)
        });
        ok &= set(&mut c.sources, sources);
    }
    if let Some(n) = obj.get("leeway") {
        ok &= set(&mut c.leeway, duration(cx, n, &obj.at("leeway")));
    }
    if let Some(n) = obj.get("max_token_bytes") {
        let p = obj.at("max_token_bytes");
        let bytes = super::scalar::size(cx, n, &p).and_then(|v| {
            if v < 256 {
                cx.error_hint(
                    n,
                    &p,
                    format!("`max_token_bytes` must be at least 256, found {v}"),
                    "real tokens are rarely under 512 bytes; the default is 8KiB",
                );
                return None;
            }
            usize::try_from(v).ok()
        });
        ok &= set(&mut c.max_token_bytes, bytes);
    }
    ok &= set(
        &mut c.keep_credential,
        opt_bool(cx, &obj, "keep_credential", false),
    );
    if let Some(n) = obj.get("roles_claim") {
        let p = obj.at("roles_claim");
        let claim = match n.kind {
            crate::file::Kind::Bool(false) => Some(None),
            _ => claim_path(cx, n, &p).map(Some),
        };
        ok &= set(&mut c.roles_claim, claim);
    }
    c.issuers = issuers?;
    ok.then_some(c)
}

/// A claim path (`email`, `realm_access.roles`).
fn claim_path(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = non_empty(cx, node, path)?;
    if !super::identity::valid_claim_path(&text) {
        cx.error_hint(
            node,
            path,
            format!("invalid claim path `{text}`"),
            "write a claim name or a dot-separated path, e.g. `scope` or `realm_access.roles`",
        );
        return None;
    }
    Some(text)
}

/// `bearer`, `{ cookie: name }` or `{ query: name }`.
fn token_source(cx: &mut Ctx, node: &Node, path: &str) -> Option<TokenSource> {
    if !matches!(node.kind, crate::file::Kind::Map(_)) {
        let text = string(cx, node, path)?;
        if text.trim() == "bearer" {
            return Some(TokenSource::Bearer);
        }
        cx.error_hint(
            node,
            path,
            format!("unknown token source `{text}`"),
            "write `bearer`, `{ cookie: name }` or `{ query: name }`",
        );
        return None;
    }
    let obj = Obj::new(cx, node, path, &["cookie", "query"])?;
    match (obj.get("cookie"), obj.get("query")) {
        (Some(n), None) => non_empty(cx, n, &obj.at("cookie")).map(TokenSource::Cookie),
        (None, Some(n)) => non_empty(cx, n, &obj.at("query")).map(TokenSource::Query),
        _ => {
            cx.error_hint(
                node,
                path,
                "a token source needs exactly one of `cookie`, `query`",
                "write `bearer`, `{ cookie: name }` or `{ query: name }`",
            );
            None
        }
    }
}

const ISSUER_KEYS: &[&str] = &[
    "issuer",
    "audiences",
    "algorithms",
    "keys",
    "require_exp",
    "required_claims",
    "claim_values",
];

fn issuer(cx: &mut Ctx, node: &Node, path: &str) -> Option<JwtIssuer> {
    let obj = Obj::new(cx, node, path, ISSUER_KEYS)?;
    let issuer = obj
        .req(cx, "issuer")
        .and_then(|n| non_empty(cx, n, &obj.at("issuer")));
    let audiences = match obj.get("audiences") {
        Some(n) => super::scalar::one_or_many(cx, n, &obj.at("audiences")),
        None => Some(Vec::new()),
    };
    let algs_node = obj.req(cx, "algorithms");
    let algorithms = algs_node.and_then(|n| algorithms(cx, n, &obj.at("algorithms")));
    let keys = obj
        .req(cx, "keys")
        .and_then(|n| jwt_keys(cx, n, &obj.at("keys")));
    let require_exp = opt_bool(cx, &obj, "require_exp", true);
    let required_claims = match obj.get("required_claims") {
        Some(n) => each(cx, n, &obj.at("required_claims"), claim_path),
        None => Some(Vec::new()),
    };
    let claim_values = match obj.get("claim_values") {
        Some(n) => claim_values(cx, n, &obj.at("claim_values")),
        None => Some(Vec::new()),
    };
    let (algorithms, keys) = (algorithms?, keys?);
    // Algorithm-confusion guard: an HMAC secret verifies HS* only, and HS* is verified only with
    // a secret (never with a public key used as an HMAC secret).
    let secret = matches!(keys, JwtKeys::Secret(_));
    let mut ok = true;
    let algs_node = algs_node?;
    let single = [algs_node.clone()];
    let (items, listed): (&[Node], bool) = match &algs_node.kind {
        crate::file::Kind::Seq(items) => (items, true),
        _ => (&single, false),
    };
    // `algorithms` holds the items in order (deduplicated): match each back to its first node.
    for (i, item) in items.iter().enumerate() {
        let Some(alg) = item.text().map(|t| t.trim().to_owned()) else {
            continue;
        };
        if items[..i]
            .iter()
            .any(|prev| prev.text().as_deref().map(str::trim) == Some(&alg))
        {
            continue;
        }
        {
            let p = if listed {
                format!("{}[{i}]", obj.at("algorithms"))
            } else {
                obj.at("algorithms")
            };
            let hmac = alg.starts_with("HS");
            if hmac && !secret {
                cx.error_hint(
                    item,
                    &p,
                    format!("`{alg}` is only allowed with `keys: {{ secret: ... }}`"),
                    "accepting HMAC algorithms with public keys allows algorithm confusion (a token signed with the public key as HMAC secret); list the issuer's asymmetric algorithms, e.g. RS256",
                );
                ok = false;
            } else if !hmac && secret {
                cx.error_hint(
                    item,
                    &p,
                    format!("`{alg}` cannot be verified with `keys: {{ secret: ... }}`"),
                    "an issuer with a shared secret may list only HS256, HS384, HS512; use `jwks_url`, `discovery` or `inline` keys for asymmetric algorithms",
                );
                ok = false;
            }
        }
    }
    let c = JwtIssuer {
        issuer: issuer?,
        audiences: audiences?,
        algorithms,
        keys,
        require_exp: require_exp?,
        required_claims: required_claims?,
        claim_values: claim_values?,
    };
    ok.then_some(c)
}

/// A non-empty list of distinct algorithm names (also accepts a single name).
fn algorithms(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    let single;
    let items: &[Node] = match &node.kind {
        crate::file::Kind::Seq(items) => items,
        _ => {
            single = [node.clone()];
            &single
        }
    };
    if items.is_empty() {
        cx.error_hint(
            node,
            path,
            "at least one algorithm is required",
            "pin the algorithms the issuer signs with, e.g. `[RS256]`",
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let p = match node.kind {
            crate::file::Kind::Seq(_) => format!("{path}[{i}]"),
            _ => path.to_owned(),
        };
        let Some(text) = string(cx, item, &p) else {
            ok = false;
            continue;
        };
        let alg = text.trim();
        if alg.eq_ignore_ascii_case("none") {
            cx.error_hint(
                item,
                &p,
                "`none` is never accepted: unsigned tokens would be trusted",
                "pin the algorithms the issuer signs with, e.g. `[RS256]`",
            );
            ok = false;
        } else if ALGORITHMS.contains(&alg) {
            if !out.iter().any(|a| a == alg) {
                out.push(alg.to_owned());
            }
        } else {
            let hint = match super::walk::closest(alg, ALGORITHMS.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("one of {}", ALGORITHMS.join(", ")),
            };
            cx.error_hint(item, &p, format!("unknown JWT algorithm `{text}`"), hint);
            ok = false;
        }
    }
    ok.then_some(out)
}

const KEY_SOURCES: &[&str] = &["jwks_url", "discovery", "inline", "secret"];
const REFRESH_KEYS: &[&str] = &[
    "min_refresh",
    "max_refresh",
    "unknown_kid_interval",
    "timeout",
];

/// Exactly one of `jwks_url`, `discovery`, `inline`, `secret` (refresh knobs with URLs only).
fn jwt_keys(cx: &mut Ctx, node: &Node, path: &str) -> Option<JwtKeys> {
    let allowed: Vec<&str> = KEY_SOURCES.iter().chain(REFRESH_KEYS).copied().collect();
    let obj = Obj::new(cx, node, path, &allowed)?;
    let (kind, n, p) = obj.exactly_one(
        cx,
        KEY_SOURCES,
        "`keys` needs exactly one of `jwks_url`, `discovery`, `inline`, `secret`",
        "e.g. `keys: { jwks_url: \"https://idp.example.com/.well-known/jwks.json\" }`",
    )?;
    match kind {
        "jwks_url" | "discovery" => {
            let url = super::scalar::http_url(cx, n, &p);
            let source = jwks_source(cx, &obj, url?)?;
            Some(if kind == "jwks_url" {
                JwtKeys::Jwks(source)
            } else {
                JwtKeys::Discovery(source)
            })
        }
        _ => {
            let mut ok = true;
            for key in REFRESH_KEYS {
                if let Some(k) = obj.get(key) {
                    cx.error_hint(
                        k,
                        &obj.at(key),
                        format!("`{key}` applies to `jwks_url` and `discovery` only"),
                        format!("remove it: `{kind}` keys are never fetched"),
                    );
                    ok = false;
                }
            }
            let keys = if kind == "inline" {
                inline_keys(cx, n, &p).map(JwtKeys::Inline)
            } else {
                secret(cx, n, &p).map(JwtKeys::Secret)
            };
            keys.filter(|_| ok)
        }
    }
}

fn jwks_source(cx: &mut Ctx, obj: &Obj<'_>, url: String) -> Option<JwksSource> {
    let mut s = JwksSource {
        url,
        min_refresh: Duration::from_secs(60),
        max_refresh: Duration::from_secs(3600),
        unknown_kid_interval: Duration::from_secs(30),
        timeout: Duration::from_secs(5),
    };
    let mut ok = true;
    for (key, slot) in [
        ("min_refresh", &mut s.min_refresh),
        ("max_refresh", &mut s.max_refresh),
        ("unknown_kid_interval", &mut s.unknown_kid_interval),
        ("timeout", &mut s.timeout),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, super::scalar::positive_duration(cx, n, &obj.at(key)));
        }
    }
    if ok && s.min_refresh > s.max_refresh {
        let at = obj
            .get("min_refresh")
            .or(obj.get("max_refresh"))
            .unwrap_or(obj.node);
        let p = if obj.get("min_refresh").is_some() {
            obj.at("min_refresh")
        } else {
            obj.at("max_refresh")
        };
        cx.error_hint(
            at,
            &p,
            format!(
                "`min_refresh` ({:?}) is greater than `max_refresh` ({:?})",
                s.min_refresh, s.max_refresh
            ),
            "min_refresh must be at most max_refresh (defaults 1m and 1h)",
        );
        return None;
    }
    ok.then_some(s)
}

/// Inline keys: PEM public keys or JWK / JWKS JSON text.
fn inline_keys(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    let keys = each(cx, node, path, |cx, n, p| {
        let text = non_empty(cx, n, p)?;
        let t = text.trim_start();
        if t.starts_with("-----BEGIN ") || t.starts_with('{') {
            if t.contains("PRIVATE KEY") {
                cx.error_hint(
                    n,
                    p,
                    "an inline key must be a public key, not a private key",
                    "give the issuer's public key (`-----BEGIN PUBLIC KEY-----`) or its JWK",
                );
                return None;
            }
            return Some(text);
        }
        cx.error_hint(
            n,
            p,
            "an inline key must be PEM (`-----BEGIN PUBLIC KEY-----`) or JWK JSON (`{...}`)",
            "use a YAML block scalar (`|`) to keep the PEM's line breaks",
        );
        None
    })?;
    if keys.is_empty() {
        cx.error(node, path, "at least one inline key is required");
        return None;
    }
    Some(keys)
}

/// A secret (never shown in diagnostics: see `Ctx::located`).
fn secret(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = string(cx, node, path)?;
    if text.is_empty() {
        cx.error(node, path, "the secret must not be empty");
        return None;
    }
    Some(text)
}

/// A map of claim path → required string value.
fn claim_values(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    let obj = Obj::any_keys(cx, node, path, "a map of claim path to value")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (name, key, value) in obj.entries() {
        let p = join(path, &name);
        if !super::identity::valid_claim_path(&name) {
            cx.error_hint(
                key,
                &p,
                format!("invalid claim path `{name}`"),
                "write a claim name or a dot-separated path, e.g. `tenant` or `org.id`",
            );
            ok = false;
            continue;
        }
        match string(cx, value, &p) {
            Some(v) => out.push((name, v)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

const INTROSPECTION_KEYS: &[&str] = &[
    "endpoint",
    "client_id",
    "client_secret",
    "timeout",
    "cache_ttl",
    "negative_ttl",
    "on_error",
    "keep_credential",
];

/// `oauth2_introspection` (RFC 7662).
pub(crate) fn introspection(cx: &mut Ctx, node: &Node, path: &str) -> Option<IntrospectionConfig> {
    let obj = Obj::new(cx, node, path, INTROSPECTION_KEYS)?;
    let endpoint = obj
        .req(cx, "endpoint")
        .and_then(|n| super::scalar::http_url(cx, n, &obj.at("endpoint")));
    let client_id = obj
        .req(cx, "client_id")
        .and_then(|n| non_empty(cx, n, &obj.at("client_id")));
    let client_secret = obj
        .req(cx, "client_secret")
        .and_then(|n| secret(cx, n, &obj.at("client_secret")));
    let mut c = IntrospectionConfig {
        endpoint: String::new(),
        client_id: String::new(),
        client_secret: String::new(),
        timeout: Duration::from_secs(2),
        cache_ttl: Duration::from_secs(60),
        negative_ttl: Duration::from_secs(5),
        on_error: IntrospectionFailure::Deny,
        keep_credential: false,
    };
    let mut ok = true;
    if let Some(n) = obj.get("timeout") {
        ok &= set(
            &mut c.timeout,
            super::scalar::positive_duration(cx, n, &obj.at("timeout")),
        );
    }
    for (key, slot) in [
        ("cache_ttl", &mut c.cache_ttl),
        ("negative_ttl", &mut c.negative_ttl),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, duration(cx, n, &obj.at(key)));
        }
    }
    if let Some(n) = obj.get("on_error") {
        let options = [
            ("deny", IntrospectionFailure::Deny),
            ("anonymous", IntrospectionFailure::Anonymous),
        ];
        ok &= set(
            &mut c.on_error,
            choice(cx, n, &obj.at("on_error"), &options),
        );
    }
    ok &= set(
        &mut c.keep_credential,
        opt_bool(cx, &obj, "keep_credential", false),
    );
    c.endpoint = endpoint?;
    c.client_id = client_id?;
    c.client_secret = client_secret?;
    ok.then_some(c)
}

/// `opa: { policies, query, headers, external: { url, timeout } }`.
pub(crate) fn opa(cx: &mut Ctx, node: &Node, path: &str) -> Option<OpaConfig> {
    let obj = Obj::new(
        cx,
        node,
        path,
        &["policies", "query", "headers", "external"],
    )?;
    let policies = match obj.get("policies") {
        Some(n) => {
            let p = obj.at("policies");
            let files = super::scalar::one_or_many(cx, n, &p);
            files.and_then(|files| {
                let mut out = Vec::with_capacity(files.len());
                let mut ok = true;
                for (i, file) in files.iter().enumerate() {
                    let (at, ip) = match &n.kind {
                        crate::file::Kind::Seq(items) => (&items[i], format!("{p}[{i}]")),
                        _ => (n, p.clone()),
                    };
                    let resolved = cx.resolve_path(file);
                    ok &=
                        super::identity::readable_file(cx, at, &ip, file, &resolved, "policy file");
                    out.push(resolved);
                }
                ok.then_some(out)
            })
        }
        None => Some(Vec::new()),
    };
    let query = match obj.get("query") {
        Some(n) => {
            let p = obj.at("query");
            non_empty(cx, n, &p).and_then(|q| {
                let q = q.trim().to_owned();
                let valid = q.strip_prefix("data.").is_some_and(|rest| {
                    !rest.is_empty()
                        && rest.split('.').all(|seg| {
                            !seg.is_empty()
                                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        })
                });
                if !valid {
                    cx.error_hint(
                        n,
                        &p,
                        format!("invalid query `{q}`"),
                        "write a rule path starting with `data.`, e.g. `data.gatehouse.allow`",
                    );
                    return None;
                }
                Some(q)
            })
        }
        None => Some("data.gatehouse.allow".to_owned()),
    };
    let headers = match obj.get("headers") {
        Some(n) => super::scalar::header_names(cx, n, &obj.at("headers")),
        None => Some(Vec::new()),
    };
    let external = match obj.get("external") {
        Some(n) => external_opa(cx, n, &obj.at("external")).map(Some),
        None => Some(None),
    };
    let (policies, external) = (policies?, external?);
    match (policies.is_empty(), external.is_some()) {
        (true, false) => {
            cx.error_hint(
                node,
                &obj.at("policies"),
                "`opa` needs `policies` (Rego files) or an `external` OPA server",
                "add `policies: [policies/authz.rego]`",
            );
            return None;
        }
        (false, true) => {
            let at = obj.get("external").unwrap_or(node);
            cx.error_hint(
                at,
                &obj.at("external"),
                "`policies` and `external` cannot be combined",
                "evaluate in process (`policies`) or ask an OPA server (`external`), not both",
            );
            return None;
        }
        _ => {}
    }
    Some(OpaConfig {
        policies,
        query: query?,
        headers: headers?,
        external,
    })
}

fn external_opa(cx: &mut Ctx, node: &Node, path: &str) -> Option<ExternalOpa> {
    let obj = Obj::new(cx, node, path, &["url", "timeout"])?;
    let url = obj
        .req(cx, "url")
        .and_then(|n| super::scalar::http_url(cx, n, &obj.at("url")));
    let timeout = match obj.get("timeout") {
        Some(n) => super::scalar::positive_duration(cx, n, &obj.at("timeout")),
        None => Some(Duration::from_millis(100)),
    };
    Some(ExternalOpa {
        url: url?,
        timeout: timeout?,
    })
}
