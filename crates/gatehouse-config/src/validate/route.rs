//! `routes:`: match conditions, upstream reference, rewrite and per-route plugins.

use super::Ctx;
use super::plugin::plugins;
use super::scalar::{
    anchored_regex, boolean, each, header_name_str, i32_any, methods, non_empty, regex, string,
    url_path,
};
use super::upstream::valid_dns_name;
use super::walk::{Obj, closest, join, list};
use crate::file::{Kind, Node};
use crate::model::{
    HeaderMatch, HostMatch, PathMatch, QueryMatch, Rewrite, Route, RouteMatch, ValueMatch,
};

const KEYS: &[&str] = &[
    "name",
    "match",
    "upstream",
    "priority",
    "rewrite",
    "preserve_host",
    "websocket",
    "plugins",
    "auth",
    "access_log",
    "mirror",
    "bulkhead",
    "timeout",
    "retry",
];

/// `routes:`: a list; names unique across all files.
pub(crate) fn routes(cx: &mut Ctx, node: &Node, path: &str) -> Vec<Route> {
    let Some(items) = list(cx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(r) = route(cx, item, &format!("{path}[{i}]")) {
            out.push(r);
        }
    }
    out
}

// `..Default::default()` stays valid while other files add resilience settings.
#[allow(clippy::needless_update)]
fn route(cx: &mut Ctx, node: &Node, path: &str) -> Option<Route> {
    let obj = Obj::new(cx, node, path, KEYS)?;
    let name_node = obj.req(cx, "name");
    let name = name_node.and_then(|n| non_empty(cx, n, &obj.at("name")));
    if let (Some(name), Some(n)) = (&name, name_node) {
        cx.unique("route name", name, n, &obj.at("name"));
    }
    let matcher = match obj.get("match") {
        Some(n) => route_match(cx, n, &obj.at("match")),
        None => Some(RouteMatch::default()),
    };
    let upstream = obj
        .req(cx, "upstream")
        .and_then(|n| upstream_ref(cx, n, &obj.at("upstream")));
    let priority = match obj.get("priority") {
        Some(n) => i32_any(cx, n, &obj.at("priority")),
        None => Some(0),
    };
    let rewrite = match obj.get("rewrite") {
        Some(n) => rewrite(cx, n, &obj.at("rewrite"), matcher.as_ref()),
        None => Some(None),
    };
    let preserve_host = match obj.get("preserve_host") {
        Some(n) => boolean(cx, n, &obj.at("preserve_host")),
        None => Some(true),
    };
    let websocket = match obj.get("websocket") {
        Some(n) => boolean(cx, n, &obj.at("websocket")),
        None => Some(false),
    };
    super::observe::route_access_log(cx, &obj, name.as_deref());
    let plugins = match obj.get("plugins") {
        Some(n) => plugins(cx, n, &obj.at("plugins")),
        None => Vec::new(),
    };
    let auth = match obj.get("auth") {
        Some(n) => super::identity::route_auth(cx, n, &obj.at("auth")).map(Some),
        None => Some(None),
    };
    let mirror = obj.get("mirror").map_or(Some(None), |n| {
        super::mirror::mirror(cx, n, &obj.at("mirror")).map(Some)
    });
    let bulkhead = (obj.get("bulkhead")).map_or(Some(None), |n| {
        super::breaker::bulkhead(cx, n, &obj.at("bulkhead"))
    });
    let timeout = (obj.get("timeout")).map_or(Some(None), |n| {
        super::resilience::route_timeout(cx, n, &obj.at("timeout"))
    });
    let retry = (obj.get("retry")).map_or(Some(None), |n| {
        super::resilience::route_retry(cx, n, &obj.at("retry"))
    });
    Some(Route {
        name: name?,
        matcher: matcher?,
        upstream: upstream?,
        priority: priority?,
        rewrite: rewrite?,
        preserve_host: preserve_host?,
        websocket: websocket?,
        plugins,
        auth: auth?,
        resilience: crate::model::RouteResilience {
            timeout: timeout?,
            retry: retry?,
            mirror: mirror?,
            bulkhead: bulkhead?,
            ..Default::default()
        },
    })
}

pub(super) fn upstream_ref(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let name = non_empty(cx, node, path)?;
    if cx.upstream_set.contains(&name) || cx.incomplete {
        return Some(name);
    }
    // Suggestions are for humans: skip them for huge (generated) configs.
    let candidates = cx.upstream_names.iter().take(1000).map(String::as_str);
    let hint = match closest(&name, candidates) {
        Some(best) => format!("did you mean `{best}`?"),
        None if cx.upstream_names.is_empty() => "no upstreams are defined".to_owned(),
        None if cx.upstream_names.len() <= 10 => {
            format!("defined upstreams: {}", cx.upstream_names.join(", "))
        }
        None => "check the names under `upstreams:`".to_owned(),
    };
    cx.error_hint(node, path, format!("unknown upstream `{name}`"), hint);
    None
}

fn route_match(cx: &mut Ctx, node: &Node, path: &str) -> Option<RouteMatch> {
    let obj = Obj::new(
        cx,
        node,
        path,
        &["hosts", "path", "methods", "headers", "query"],
    )?;
    let hosts = match obj.get("hosts") {
        Some(n) => each(cx, n, &obj.at("hosts"), host),
        None => Some(Vec::new()),
    };
    let path_match = match obj.get("path") {
        Some(n) => path_match(cx, n, &obj.at("path")).map(|(m, ci)| (Some(m), ci)),
        None => Some((None, false)),
    };
    let methods = match obj.get("methods") {
        Some(n) => methods(cx, n, &obj.at("methods")),
        None => Some(Vec::new()),
    };
    let headers = match obj.get("headers") {
        Some(n) => conditions(cx, n, &obj.at("headers"), true).map(|v| {
            v.into_iter()
                .filter_map(|(_, name, value)| Some(HeaderMatch { name: name?, value }))
                .collect()
        }),
        None => Some(Vec::new()),
    };
    let query = match obj.get("query") {
        Some(n) => conditions(cx, n, &obj.at("query"), false).map(|v| {
            v.into_iter()
                .map(|(name, _, value)| QueryMatch { name, value })
                .collect()
        }),
        None => Some(Vec::new()),
    };
    let (path, path_case_insensitive) = path_match?;
    Some(RouteMatch {
        hosts: hosts?,
        path,
        path_case_insensitive,
        methods: methods?,
        headers: headers?,
        query: query?,
    })
}

/// `api.example.com` → exact; `*.example.com` → wildcard `.example.com`.
fn host(cx: &mut Ctx, node: &Node, path: &str) -> Option<HostMatch> {
    let text = non_empty(cx, node, path)?;
    let lower = text.trim().to_ascii_lowercase();
    let (matcher, bare) = match lower.strip_prefix("*.") {
        Some(suffix) => (HostMatch::Wildcard(format!(".{suffix}")), suffix.to_owned()),
        None => (HostMatch::Exact(lower.clone()), lower.clone()),
    };
    let ip_literal =
        bare.parse::<std::net::IpAddr>().is_ok() || (bare.starts_with('[') && bare.ends_with(']'));
    if lower == "*" {
        cx.error_hint(
            node,
            path,
            "`*` is not a host pattern",
            "leave `hosts` out to match any host",
        );
        return None;
    }
    if !(ip_literal || valid_dns_name(&bare)) {
        cx.error_hint(
            node,
            path,
            format!("invalid host pattern `{text}`"),
            "write `api.example.com` or `*.example.com` (without port)",
        );
        return None;
    }
    Some(matcher)
}

const PATH_KINDS: &[&str] = &["prefix", "exact", "template", "regex"];

/// `{ prefix | exact | template | regex: ..., case_insensitive: bool }`, or a string (a prefix);
/// with whether the path compares ignoring case (default false).
fn path_match(cx: &mut Ctx, node: &Node, path: &str) -> Option<(PathMatch, bool)> {
    if !matches!(node.kind, Kind::Map(_)) {
        return url_path(cx, node, path).map(|p| (PathMatch::Prefix(p), false));
    }
    let keys = ["prefix", "exact", "template", "regex", "case_insensitive"];
    let obj = Obj::new(cx, node, path, &keys)?;
    let case_insensitive = match obj.get("case_insensitive") {
        Some(n) => boolean(cx, n, &obj.at("case_insensitive")),
        None => Some(false),
    };
    let (kind, n, p) = obj.exactly_one(
        cx,
        PATH_KINDS,
        "a path condition needs exactly one of `prefix`, `exact`, `template`, `regex`",
        "e.g. `path: { prefix: /api }`",
    )?;
    let matcher = match kind {
        "prefix" => url_path(cx, n, &p).map(PathMatch::Prefix),
        "exact" => url_path(cx, n, &p).map(PathMatch::Exact),
        "template" => {
            let t = url_path(cx, n, &p)?;
            match check_template(&t) {
                Ok(()) => Some(PathMatch::Template(t)),
                Err(message) => {
                    cx.error_hint(
                        n,
                        &p,
                        message,
                        "templates look like `/users/{id}` or `/files/{*rest}`",
                    );
                    None
                }
            }
        }
        _ => anchored_regex(cx, n, &p).map(PathMatch::Regex),
    };
    Some((matcher?, case_insensitive?))
}

/// Checks `{name}` segments and an optional trailing `{*rest}`.
fn check_template(t: &str) -> Result<(), String> {
    let segments: Vec<&str> = t.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        if !seg.contains('{') && !seg.contains('}') {
            continue;
        }
        let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            return Err(format!(
                "template segment `{seg}` must be a whole `{{name}}`"
            ));
        };
        let (catch_all, name) = match inner.strip_prefix('*') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(format!("invalid template parameter `{seg}`"));
        }
        if catch_all && i != last {
            return Err(format!("`{seg}` must be the last segment"));
        }
    }
    Ok(())
}

/// `name: value` conditions: a string (exact), `{ regex: ... }`, `{ present: true }`.
/// Header names are validated when `headers`.
type Condition = (String, Option<http::HeaderName>, ValueMatch);

fn conditions(cx: &mut Ctx, node: &Node, path: &str, headers: bool) -> Option<Vec<Condition>> {
    let obj = Obj::any_keys(cx, node, path, "a map of name to condition")?;
    let mut out = Vec::with_capacity(obj.len());
    let mut ok = true;
    for (name, key, value) in obj.entries() {
        let p = join(path, &name);
        let header = if headers {
            match header_name_str(cx, key, &p, &name) {
                Some(h) => Some(h),
                None => {
                    ok = false;
                    None
                }
            }
        } else {
            None
        };
        match value_match(cx, value, &p) {
            Some(v) => out.push((name, header, v)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn value_match(cx: &mut Ctx, node: &Node, path: &str) -> Option<ValueMatch> {
    if !matches!(node.kind, Kind::Map(_)) {
        return string(cx, node, path).map(ValueMatch::Exact);
    }
    let obj = Obj::new(cx, node, path, &["exact", "regex", "present"])?;
    let given: Vec<&str> = ["exact", "regex", "present"]
        .into_iter()
        .filter(|k| obj.get(k).is_some())
        .collect();
    let [kind] = given.as_slice() else {
        cx.error_hint(
            node,
            path,
            "a value condition needs exactly one of `exact`, `regex`, `present`",
            "e.g. `{ regex: \"^2\" }` or `{ present: true }`",
        );
        return None;
    };
    let n = obj.get(kind)?;
    let p = obj.at(kind);
    match *kind {
        "exact" => string(cx, n, &p).map(ValueMatch::Exact),
        "regex" => anchored_regex(cx, n, &p).map(ValueMatch::Regex),
        _ => match boolean(cx, n, &p)? {
            true => Some(ValueMatch::Present),
            false => {
                cx.error_hint(
                    n,
                    &p,
                    "`present: false` is not supported",
                    "use `present: true`, or leave the condition out",
                );
                None
            }
        },
    }
}

fn rewrite(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    matcher: Option<&RouteMatch>,
) -> Option<Option<Rewrite>> {
    let obj = Obj::new(
        cx,
        node,
        path,
        &["strip_prefix", "replace_prefix", "regex", "replacement"],
    )?;
    let prefix_forms = ["strip_prefix", "replace_prefix"]
        .into_iter()
        .filter(|k| obj.get(k).is_some())
        .count();
    let regex_form = obj.get("regex").is_some() || obj.get("replacement").is_some();
    if prefix_forms + usize::from(regex_form) != 1 {
        cx.error_hint(
            node,
            path,
            "a rewrite needs exactly one of `strip_prefix`, `replace_prefix`, `regex` + `replacement`",
            "e.g. `rewrite: { strip_prefix: true }`",
        );
        return None;
    }
    let prefix_route = matcher.is_none_or(|m| matches!(m.path, Some(PathMatch::Prefix(_))));
    let needs_prefix = |cx: &mut Ctx, n: &Node, p: &str| {
        if !prefix_route {
            cx.error_hint(
                n,
                p,
                "a prefix rewrite needs a prefix path condition",
                "add `match: { path: { prefix: /... } }`",
            );
        }
        prefix_route
    };
    if let Some(n) = obj.get("strip_prefix") {
        let p = obj.at("strip_prefix");
        let on = boolean(cx, n, &p)?;
        return (!on || needs_prefix(cx, n, &p)).then(|| on.then_some(Rewrite::StripPrefix));
    }
    if let Some(n) = obj.get("replace_prefix") {
        let p = obj.at("replace_prefix");
        let with = url_path(cx, n, &p)?;
        return needs_prefix(cx, n, &p).then_some(Some(Rewrite::ReplacePrefix(with)));
    }
    let pattern = obj
        .req(cx, "regex")
        .and_then(|n| regex(cx, n, &obj.at("regex")));
    let replacement = obj
        .req(cx, "replacement")
        .and_then(|n| string(cx, n, &obj.at("replacement")));
    Some(Some(Rewrite::Regex {
        pattern: pattern?,
        replacement: replacement?,
    }))
}
