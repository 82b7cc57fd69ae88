//! Rate limits: `plans:` (limits and quotas per plan), plan references, and the `rate_limit`
//! plugin's settings. `store:` is in [`store`].

mod approximate;
mod store;

pub(crate) use store::store;

use super::listener::set;
use super::scalar::{boolean, choice, integer, non_empty, positive_duration, string, usize_min};
use super::walk::{Obj, closest, join, type_error};
use super::{Ctx, scalar};
use crate::file::{Kind, Node};
use crate::model::{
    Algorithm, Backend, KeyPart, Limit, LimitSource, Plan, Quota, QuotaPeriod, QuotaScope,
    RateLimitConfig, RateLimitHeaders,
};

/// Default `max_keys` of the memory backend.
const DEFAULT_MAX_KEYS: usize = 100_000;

// === plans ===

/// `plans:`, a map of plan name → plan, or a list of plans with a `name`. Records every name
/// (also of refused plans) so that references to them are not reported as unknown.
pub(crate) fn plans(cx: &mut Ctx, node: &Node, path: &str) -> Vec<Plan> {
    cx.plans_defined = true;
    let mut out = Vec::new();
    match &node.kind {
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let Some(obj) = Obj::new(cx, item, &p, &["name", "limits", "quota"]) else {
                    continue;
                };
                let name_node = obj.req(cx, "name");
                let name = name_node.and_then(|n| non_empty(cx, n, &obj.at("name")));
                if let (Some(name), Some(n)) = (&name, name_node) {
                    plan_name(cx, name, n, &obj.at("name"));
                }
                let plan = plan_body(cx, &obj);
                if let (Some(name), Some((limits, quota))) = (name, plan) {
                    out.push(Plan {
                        name,
                        limits,
                        quota,
                    });
                }
            }
        }
        _ => {
            let expected = "a map of plan name to settings (or a list of plans with `name`)";
            let Some(obj) = Obj::any_keys(cx, node, path, expected) else {
                return out;
            };
            for (name, key, value) in obj.entries() {
                let p = join(path, &name);
                if name.trim().is_empty() {
                    cx.error(key, &p, "a plan name must not be empty");
                    continue;
                }
                plan_name(cx, &name, key, &p);
                let empty = Node::new(Kind::Map(Vec::new()), value.line, value.column);
                let value = if value.is_null() { &empty } else { value };
                let Some(plan) = Obj::new(cx, value, &p, &["limits", "quota"]) else {
                    continue;
                };
                if let Some((limits, quota)) = plan_body(cx, &plan) {
                    out.push(Plan {
                        name,
                        limits,
                        quota,
                    });
                }
            }
        }
    }
    out
}

fn plan_name(cx: &mut Ctx, name: &str, node: &Node, path: &str) {
    cx.unique("plan", name, node, path);
    if !cx.plan_names.iter().any(|p| p == name) {
        cx.plan_names.push(name.to_owned());
    }
}

/// A plan's `limits` (empty = unlimited) and `quota`.
fn plan_body(cx: &mut Ctx, obj: &Obj<'_>) -> Option<(Vec<Limit>, Option<Quota>)> {
    let limits = match obj.get("limits") {
        Some(n) => limit_list(cx, n, &obj.at("limits"), true),
        None => Some(Vec::new()),
    };
    let quota = match obj.get("quota") {
        Some(n) => quota(cx, n, &obj.at("quota")).map(Some),
        None => Some(None),
    };
    Some((limits?, quota?))
}

/// A list of limits; `allow_empty` = an empty list is fine (unlimited).
fn limit_list(cx: &mut Ctx, node: &Node, path: &str, allow_empty: bool) -> Option<Vec<Limit>> {
    let items = scalar::each(cx, node, path, limit)?;
    if items.is_empty() && !allow_empty {
        cx.error_hint(
            node,
            path,
            "at least one limit is required",
            "e.g. `limits: [{ requests: 100, per: 1m }]`, or `limits: plan`",
        );
        return None;
    }
    Some(items)
}

/// `{ requests, per, algorithm, burst }`.
fn limit(cx: &mut Ctx, node: &Node, path: &str) -> Option<Limit> {
    let obj = Obj::new(cx, node, path, &["requests", "per", "algorithm", "burst"])?;
    let requests = obj
        .req(cx, "requests")
        .and_then(|n| count(cx, n, &obj.at("requests")));
    let per = obj
        .req(cx, "per")
        .and_then(|n| positive_duration(cx, n, &obj.at("per")));
    let mut algorithm = Some(Algorithm::SlidingWindow);
    if let Some(n) = obj.get("algorithm") {
        let options = [
            ("sliding_window", Algorithm::SlidingWindow),
            ("token_bucket", Algorithm::TokenBucket),
        ];
        algorithm = choice(cx, n, &obj.at("algorithm"), &options);
    }
    let mut burst = Some(None);
    if let Some(n) = obj.get("burst") {
        burst = match algorithm {
            Some(Algorithm::TokenBucket) => count(cx, n, &obj.at("burst")).map(Some),
            Some(Algorithm::SlidingWindow) => {
                cx.error_hint(
                    n,
                    &obj.at("burst"),
                    "`burst` applies to the token bucket only",
                    "add `algorithm: token_bucket`, or remove `burst`",
                );
                None
            }
            None => None,
        };
    }
    Some(Limit {
        requests: requests?,
        per: per?,
        algorithm: algorithm?,
        burst: burst?,
    })
}

/// A count of requests: an integer ≥ 1.
fn count(cx: &mut Ctx, node: &Node, path: &str) -> Option<u64> {
    integer(cx, node, path, 1, u64::MAX.into()).and_then(|v| u64::try_from(v).ok())
}

/// `{ requests, per: day|month|rolling_day|rolling_month, scope: consumer|tenant }`.
fn quota(cx: &mut Ctx, node: &Node, path: &str) -> Option<Quota> {
    let obj = Obj::new(cx, node, path, &["requests", "per", "scope"])?;
    let requests = obj
        .req(cx, "requests")
        .and_then(|n| count(cx, n, &obj.at("requests")));
    let periods = [
        ("day", QuotaPeriod::Day),
        ("month", QuotaPeriod::Month),
        ("rolling_day", QuotaPeriod::RollingDay),
        ("rolling_month", QuotaPeriod::RollingMonth),
    ];
    let period = obj
        .req(cx, "per")
        .and_then(|n| choice(cx, n, &obj.at("per"), &periods));
    let mut scope = Some(QuotaScope::Consumer);
    if let Some(n) = obj.get("scope") {
        let options = [
            ("consumer", QuotaScope::Consumer),
            ("tenant", QuotaScope::Tenant),
        ];
        scope = choice(cx, n, &obj.at("scope"), &options);
    }
    Some(Quota {
        requests: requests?,
        period: period?,
        scope: scope?,
    })
}

/// A reference to a plan (consumers' and groups' `plan`): free-form when no `plans:` section
/// exists, else it must name a defined plan (did you mean).
pub(crate) fn plan_ref(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let name = non_empty(cx, node, path)?;
    if !cx.plans_defined || cx.incomplete || cx.plan_names.contains(&name) {
        return Some(name);
    }
    let names = cx.plan_names.clone();
    let hint = match closest(&name, names.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{best}`?"),
        None if names.is_empty() => "`plans:` defines no plans".to_owned(),
        None => format!(
            "defined plans: {}",
            names
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    cx.error_hint(node, path, format!("unknown plan `{name}`"), hint);
    None
}

// === rate_limit ===

const RATE_LIMIT_KEYS: &[&str] = &[
    "limits",
    "key",
    "backend",
    "headers",
    "max_keys",
    "approximate",
];

/// `rate_limit` plugin settings.
pub(crate) fn rate_limit(cx: &mut Ctx, node: &Node, path: &str) -> Option<RateLimitConfig> {
    let obj = Obj::new(cx, node, path, RATE_LIMIT_KEYS)?;
    let limits = obj
        .req(cx, "limits")
        .and_then(|n| limit_source(cx, n, &obj.at("limits")));
    let mut c = RateLimitConfig {
        limits: LimitSource::Fixed(Vec::new()),
        key: vec![KeyPart::Consumer],
        backend: if cx.store_redis {
            Backend::Redis
        } else {
            Backend::Memory
        },
        headers: RateLimitHeaders::default(),
        max_keys: DEFAULT_MAX_KEYS,
        approximate: None,
    };
    let mut ok = true;
    if let Some(n) = obj.get("key") {
        ok &= set(&mut c.key, key(cx, n, &obj.at("key")));
    }
    if let Some(n) = obj.get("backend") {
        let options = [("memory", Backend::Memory), ("redis", Backend::Redis)];
        let backend = choice(cx, n, &obj.at("backend"), &options);
        if backend == Some(Backend::Redis) && !cx.store_redis && !cx.incomplete {
            cx.error_hint(
                n,
                &obj.at("backend"),
                "`backend: redis` needs a Redis store",
                "add `store: { redis: { url: \"redis://127.0.0.1:6379\" } }`, or use `backend: memory`",
            );
            ok = false;
        } else {
            ok &= set(&mut c.backend, backend);
        }
    }
    if let Some(n) = obj.get("headers") {
        ok &= set(&mut c.headers, headers(cx, n, &obj.at("headers")));
    }
    if let Some(n) = obj.get("max_keys") {
        ok &= set(&mut c.max_keys, usize_min(cx, n, &obj.at("max_keys"), 1));
    }
    if let Some(n) = obj.get("approximate") {
        let approximate = approximate::approximate(cx, n, &obj.at("approximate"), c.backend);
        ok &= set(&mut c.approximate, approximate.map(Some));
    }
    c.limits = limits?;
    ok.then_some(c)
}

/// A non-empty list of limits, `plan`, or `{ plan: { fallback: [limits] } }`.
fn limit_source(cx: &mut Ctx, node: &Node, path: &str) -> Option<LimitSource> {
    let source = match &node.kind {
        Kind::Seq(_) => return limit_list(cx, node, path, false).map(LimitSource::Fixed),
        Kind::Map(_) => {
            let obj = Obj::new(cx, node, path, &["plan"])?;
            let plan = obj.req(cx, "plan")?;
            let fallback = if plan.is_null() {
                Vec::new()
            } else {
                let p = obj.at("plan");
                let plan = Obj::new(cx, plan, &p, &["fallback"])?;
                match plan.get("fallback") {
                    Some(n) => limit_list(cx, n, &plan.at("fallback"), true)?,
                    None => Vec::new(),
                }
            };
            LimitSource::Plan { fallback }
        }
        _ if node.text().is_some_and(|t| t.trim() == "plan") => LimitSource::Plan {
            fallback: Vec::new(),
        },
        _ => {
            if node.text().is_some() {
                cx.error_hint(
                    node,
                    path,
                    format!("unknown value `{}`", node.text().unwrap_or_default().trim()),
                    "write a list of limits, `plan`, or `{ plan: { fallback: [...] } }`",
                );
            } else {
                type_error(cx, node, path, "a list of limits, `plan`, or a map");
            }
            return None;
        }
    };
    if !cx.plans_defined && !cx.incomplete {
        cx.error_hint(
            node,
            path,
            "limits from the consumer's plan need a `plans:` section",
            "add `plans: { free: { limits: [{ requests: 100, per: 1m }] } }`",
        );
        return None;
    }
    Some(source)
}

/// Words accepted as key parts (besides `header:`, `param:`, `literal:`).
const KEY_PARTS: &[(&str, KeyPart)] = &[
    ("consumer", KeyPart::Consumer),
    ("api_key", KeyPart::ApiKey),
    ("user", KeyPart::User),
    ("tenant", KeyPart::Tenant),
    ("client_ip", KeyPart::ClientIp),
    ("route", KeyPart::Route),
];

/// A non-empty list of key parts (or one key part).
fn key(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<KeyPart>> {
    let parts = match node.kind {
        Kind::Seq(_) => scalar::each(cx, node, path, key_part)?,
        _ => vec![key_part(cx, node, path)?],
    };
    if parts.is_empty() {
        cx.error_hint(
            node,
            path,
            "a key needs at least one part",
            "e.g. `key: [consumer]` (the default), or `key: [client_ip, route]`",
        );
        return None;
    }
    Some(parts)
}

fn key_part(cx: &mut Ctx, node: &Node, path: &str) -> Option<KeyPart> {
    let text = string(cx, node, path)?;
    let word = text.trim();
    if let Some(name) = word.strip_prefix("header:") {
        return scalar::header_name_str(cx, node, path, name.trim()).map(KeyPart::Header);
    }
    for (prefix, make) in [
        ("param:", KeyPart::PathParam as fn(String) -> KeyPart),
        ("literal:", KeyPart::Literal),
    ] {
        if let Some(rest) = word.strip_prefix(prefix) {
            if rest.trim().is_empty() {
                let what = &prefix[..prefix.len() - 1];
                cx.error_hint(
                    node,
                    path,
                    format!("`{prefix}` needs a {what} after the colon"),
                    format!("e.g. `{prefix}id`"),
                );
                return None;
            }
            return Some(make(rest.trim().to_owned()));
        }
    }
    if let Some((_, part)) = KEY_PARTS.iter().find(|(name, _)| *name == word) {
        return Some(part.clone());
    }
    let names: Vec<&str> = KEY_PARTS.iter().map(|(name, _)| *name).collect();
    let hint = match closest(word, names.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!(
            "one of {}, or `header:<name>`, `param:<name>`, `literal:<text>`",
            names.join(", ")
        ),
    };
    cx.error_hint(node, path, format!("unknown key part `{text}`"), hint);
    None
}

fn headers(cx: &mut Ctx, node: &Node, path: &str) -> Option<RateLimitHeaders> {
    let obj = Obj::new(cx, node, path, &["draft", "structured", "x_ratelimit"])?;
    let mut h = RateLimitHeaders::default();
    let mut ok = true;
    for (key, slot) in [
        ("draft", &mut h.draft),
        ("structured", &mut h.structured),
        ("x_ratelimit", &mut h.x_ratelimit),
    ] {
        if let Some(n) = obj.get(key) {
            ok &= set(slot, boolean(cx, n, &obj.at(key)));
        }
    }
    ok.then_some(h)
}
