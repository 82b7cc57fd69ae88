//! `plugins:` (global and per route): `- plugin_name: { settings }` with optional `priority` and
//! `enabled` keys beside the plugin name.

use std::time::Duration;

use http::Method;

use super::listener::set;
use super::scalar::{
    boolean, duration, each, header_name, header_name_str, header_names, header_value, i32_any,
    methods, networks, size, status, string,
};
use super::walk::{Obj, closest, join, list};
use super::{Ctx, auth};
use crate::file::{Kind, Node};
use crate::model::{
    CorsConfig, HeaderOps, IpRestrictionConfig, OriginMatch, PluginConfig, PluginSpec,
    RequestIdConfig, RequestSizeLimitConfig,
};

/// Names of the built-in plugins.
pub(crate) const PLUGINS: &[&str] = &[
    "request_id",
    "request_headers",
    "response_headers",
    "ip_restriction",
    "cors",
    "request_size_limit",
    "key_auth",
    "jwt",
    "oauth2_introspection",
    "mtls",
    "rbac",
    "opa",
    "rate_limit",
    "fault_injection",
    "cache",
];

/// A plugin list; refused items are left out (and reported).
pub(crate) fn plugins(cx: &mut Ctx, node: &Node, path: &str) -> Vec<PluginSpec> {
    let Some(items) = list(cx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(spec) = plugin(cx, item, &format!("{path}[{i}]")) {
            out.push(spec);
        }
    }
    out
}

fn plugin(cx: &mut Ctx, node: &Node, path: &str) -> Option<PluginSpec> {
    let obj = Obj::any_keys(cx, node, path, "a map `{ plugin_name: { settings } }`")?;
    let mut named: Vec<(String, &Node, &Node)> = Vec::new();
    let mut priority = Some(None);
    let mut enabled = Some(true);
    for (name, key, value) in obj.entries() {
        let p = join(path, &name);
        match name.as_str() {
            "priority" => priority = i32_any(cx, value, &p).map(Some),
            "enabled" => enabled = boolean(cx, value, &p),
            _ if PLUGINS.contains(&name.as_str()) => named.push((name, key, value)),
            _ => {
                let hint = match closest(&name, PLUGINS.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("built-in plugins: {}", PLUGINS.join(", ")),
                };
                cx.error_hint(key, &p, format!("unknown plugin `{name}`"), hint);
                return None;
            }
        }
    }
    let [(name, _, settings)] = named.as_slice() else {
        let message = if named.is_empty() {
            "a plugin entry needs a plugin name, e.g. `- request_id: {}`".to_owned()
        } else {
            "a plugin entry names exactly one plugin; use one list item per plugin".to_owned()
        };
        cx.error(node, path, message);
        return None;
    };
    let p = join(path, name);
    let config = settings_for(cx, name, settings, &p)?;
    Some(PluginSpec {
        priority: priority?,
        enabled: enabled?,
        config,
    })
}

fn settings_for(cx: &mut Ctx, name: &str, node: &Node, path: &str) -> Option<PluginConfig> {
    let empty = Node::new(Kind::Map(Vec::new()), node.line, node.column);
    let node = if node.is_null() { &empty } else { node };
    match name {
        "request_id" => request_id(cx, node, path).map(PluginConfig::RequestId),
        "request_headers" => header_ops(cx, node, path).map(PluginConfig::RequestHeaders),
        "response_headers" => header_ops(cx, node, path).map(PluginConfig::ResponseHeaders),
        "ip_restriction" => ip_restriction(cx, node, path).map(PluginConfig::IpRestriction),
        "cors" => cors(cx, node, path).map(PluginConfig::Cors),
        "key_auth" => auth::key_auth(cx, node, path).map(PluginConfig::KeyAuth),
        "rbac" => auth::rbac(cx, node, path).map(PluginConfig::Rbac),
        "mtls" => auth::mtls(cx, node, path).map(PluginConfig::Mtls),
        "jwt" => auth::jwt(cx, node, path).map(PluginConfig::Jwt),
        "oauth2_introspection" => {
            auth::introspection(cx, node, path).map(PluginConfig::Introspection)
        }
        "opa" => auth::opa(cx, node, path).map(PluginConfig::Opa),
        "rate_limit" => super::limits::rate_limit(cx, node, path).map(PluginConfig::RateLimit),
        "fault_injection" => {
            super::fault::fault_injection(cx, node, path).map(PluginConfig::FaultInjection)
        }
        "cache" => super::cache::cache(cx, node, path).map(PluginConfig::Cache),
        _ => request_size_limit(cx, node, path).map(PluginConfig::RequestSizeLimit),
    }
}

fn request_id(cx: &mut Ctx, node: &Node, path: &str) -> Option<RequestIdConfig> {
    let obj = Obj::new(
        cx,
        node,
        path,
        &["header", "trust_incoming", "echo_in_response"],
    )?;
    let mut c = RequestIdConfig {
        header: http::HeaderName::from_static("x-request-id"),
        trust_incoming: true,
        echo_in_response: true,
    };
    let mut ok = true;
    if let Some(n) = obj.get("header") {
        ok &= set(&mut c.header, header_name(cx, n, &obj.at("header")));
    }
    if let Some(n) = obj.get("trust_incoming") {
        ok &= set(
            &mut c.trust_incoming,
            boolean(cx, n, &obj.at("trust_incoming")),
        );
    }
    if let Some(n) = obj.get("echo_in_response") {
        ok &= set(
            &mut c.echo_in_response,
            boolean(cx, n, &obj.at("echo_in_response")),
        );
    }
    ok.then_some(c)
}

fn header_ops(cx: &mut Ctx, node: &Node, path: &str) -> Option<HeaderOps> {
    let obj = Obj::new(cx, node, path, &["add", "set", "remove", "rename"])?;
    let mut ops = HeaderOps::default();
    let mut ok = true;
    for (key, slot) in [("add", &mut ops.add), ("set", &mut ops.set)] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, name_map(cx, n, &obj.at(key), header_value));
        }
    }
    if let Some(n) = obj.get("remove") {
        ok &= set(&mut ops.remove, header_names(cx, n, &obj.at("remove")));
    }
    if let Some(n) = obj.get("rename") {
        ok &= set(
            &mut ops.rename,
            name_map(cx, n, &obj.at("rename"), header_name),
        );
    }
    ok.then_some(ops)
}

/// A map of header name → `T`.
fn name_map<T>(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    value: impl Fn(&mut Ctx, &Node, &str) -> Option<T>,
) -> Option<Vec<(http::HeaderName, T)>> {
    let obj = Obj::any_keys(cx, node, path, "a map of header name to value")?;
    let mut out = Vec::with_capacity(obj.len());
    let mut ok = true;
    for (name, key, v) in obj.entries() {
        let p = join(path, &name);
        match (header_name_str(cx, key, &p, &name), value(cx, v, &p)) {
            (Some(h), Some(v)) => out.push((h, v)),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn ip_restriction(cx: &mut Ctx, node: &Node, path: &str) -> Option<IpRestrictionConfig> {
    let obj = Obj::new(cx, node, path, &["allow", "deny", "status"])?;
    let mut c = IpRestrictionConfig {
        allow: Vec::new(),
        deny: Vec::new(),
        status: 403,
    };
    let mut ok = true;
    if let Some(n) = obj.get("allow") {
        ok &= set(&mut c.allow, networks(cx, n, &obj.at("allow")));
    }
    if let Some(n) = obj.get("deny") {
        ok &= set(&mut c.deny, networks(cx, n, &obj.at("deny")));
    }
    if let Some(n) = obj.get("status") {
        ok &= set(&mut c.status, status(cx, n, &obj.at("status")));
    }
    ok.then_some(c)
}

const CORS_KEYS: &[&str] = &[
    "allow_origins",
    "allow_methods",
    "allow_headers",
    "expose_headers",
    "allow_credentials",
    "max_age",
];

fn cors(cx: &mut Ctx, node: &Node, path: &str) -> Option<CorsConfig> {
    let obj = Obj::new(cx, node, path, CORS_KEYS)?;
    let mut c = CorsConfig {
        allow_origins: Vec::new(),
        allow_methods: vec![
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ],
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        allow_credentials: false,
        max_age: None::<Duration>,
    };
    let mut ok = true;
    if let Some(n) = obj.get("allow_origins") {
        ok &= set(
            &mut c.allow_origins,
            each(cx, n, &obj.at("allow_origins"), origin),
        );
    }
    if let Some(n) = obj.get("allow_methods") {
        ok &= set(
            &mut c.allow_methods,
            methods(cx, n, &obj.at("allow_methods")),
        );
    }
    if let Some(n) = obj.get("allow_headers") {
        ok &= set(
            &mut c.allow_headers,
            header_names(cx, n, &obj.at("allow_headers")),
        );
    }
    if let Some(n) = obj.get("expose_headers") {
        ok &= set(
            &mut c.expose_headers,
            header_names(cx, n, &obj.at("expose_headers")),
        );
    }
    if let Some(n) = obj.get("allow_credentials") {
        ok &= set(
            &mut c.allow_credentials,
            boolean(cx, n, &obj.at("allow_credentials")),
        );
    }
    if let Some(n) = obj.get("max_age") {
        let age = duration(cx, n, &obj.at("max_age"));
        ok &= age.is_some();
        c.max_age = age;
    }
    if c.allow_credentials && c.allow_origins.contains(&OriginMatch::Any) {
        let at = obj.get("allow_credentials").unwrap_or(node);
        cx.error_hint(
            at,
            &obj.at("allow_credentials"),
            "`allow_credentials: true` cannot be combined with the `*` origin",
            "list the allowed origins explicitly, or use `{ pattern: ... }`",
        );
        return None;
    }
    ok.then_some(c)
}

/// `*`, an origin (`https://app.example.com`), or `{ pattern: regex }`.
fn origin(cx: &mut Ctx, node: &Node, path: &str) -> Option<OriginMatch> {
    if let Kind::Map(_) = node.kind {
        let obj = Obj::new(cx, node, path, &["pattern"])?;
        let n = obj.req(cx, "pattern")?;
        return super::scalar::anchored_regex(cx, n, &obj.at("pattern")).map(OriginMatch::Pattern);
    }
    let text = string(cx, node, path)?;
    if text == "*" {
        return Some(OriginMatch::Any);
    }
    let valid = text.split_once("://").is_some_and(|(scheme, host)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && !host.is_empty()
            && !host.contains('/')
    });
    if !valid {
        cx.error_hint(
            node,
            path,
            format!("invalid origin `{text}`"),
            "write `scheme://host[:port]` without a path, `*`, or `{ pattern: \"^https://.*$\" }`",
        );
        return None;
    }
    Some(OriginMatch::Exact(text.to_ascii_lowercase()))
}

fn request_size_limit(cx: &mut Ctx, node: &Node, path: &str) -> Option<RequestSizeLimitConfig> {
    let obj = Obj::new(cx, node, path, &["max_bytes"])?;
    let n = obj.req(cx, "max_bytes")?;
    let max_bytes = size(cx, n, &obj.at("max_bytes"))?;
    Some(RequestSizeLimitConfig { max_bytes })
}
