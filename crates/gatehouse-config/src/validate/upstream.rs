//! `upstreams:`: a map of cluster name → settings.

use std::net::IpAddr;

mod health;

use health::{health_check, passive};

use super::Ctx;
use super::listener::set;
use super::scalar::{boolean, each, header_name_str, non_empty, string, u32_min, usize_min};
use super::walk::{Obj, closest, join};
use crate::file::{Kind, Node};
use crate::model::{
    Balance, HashAlgorithm, HashKey, PassiveHealth, Pool, Target, Upstream, UpstreamProtocol,
    UpstreamTimeouts, UpstreamTls,
};

const KEYS: &[&str] = &[
    "targets",
    "balance",
    "health_check",
    "passive_health",
    "timeouts",
    "protocol",
    "tls",
    "pool",
    "circuit_breaker",
    "bulkhead",
    "retry",
];

/// Pass 1: records every upstream name (unique across files) so routes can reference them.
pub(crate) fn collect_names(cx: &mut Ctx, node: &Node, path: &str) {
    let Some(obj) = Obj::any_keys(cx, node, path, "a map of upstream name to settings") else {
        return;
    };
    for (name, key, _) in obj.entries() {
        cx.unique("upstream", &name, key, &join(path, &name));
        if cx.upstream_set.insert(name.clone()) {
            cx.upstream_names.push(name);
        }
    }
}

/// Pass 2: validates every upstream (type errors of the map itself were reported in pass 1).
pub(crate) fn upstreams(cx: &mut Ctx, node: &Node, path: &str) -> Vec<Upstream> {
    let Kind::Map(_) = node.kind else {
        return Vec::new();
    };
    let Some(obj) = Obj::any_keys(cx, node, path, "a map") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, key, value) in obj.entries() {
        let p = join(path, &name);
        if name.trim().is_empty() {
            cx.error(key, &p, "an upstream name must not be empty");
            continue;
        }
        if let Some(u) = upstream(cx, name, value, &p) {
            out.push(u);
        }
    }
    out
}

// `..Default::default()` stays valid while other files add resilience settings.
#[allow(clippy::needless_update)]
fn upstream(cx: &mut Ctx, name: String, node: &Node, path: &str) -> Option<Upstream> {
    if node.is_null() {
        cx.error_hint(
            node,
            &join(path, "targets"),
            "missing required key `targets`",
            "add `targets: [host:port]`",
        );
        return None;
    }
    let obj = Obj::new(cx, node, path, KEYS)?;
    let targets = obj.req(cx, "targets").and_then(|n| {
        let p = obj.at("targets");
        let targets = each(cx, n, &p, target)?;
        if targets.is_empty() {
            cx.error_hint(
                n,
                &p,
                "an upstream needs at least one target",
                "add `- host:port`",
            );
            return None;
        }
        Some(targets)
    });
    let balance = obj.get("balance").map_or(Some(Balance::RoundRobin), |n| {
        balance(cx, n, &obj.at("balance"))
    });
    let health_check = obj
        .get("health_check")
        .map_or(Some(None), |n| health_check(cx, n, &obj.at("health_check")));
    let passive_health = obj
        .get("passive_health")
        .map_or(Some(Some(PassiveHealth::default())), |n| {
            passive(cx, n, &obj.at("passive_health"))
        });
    let timeouts = obj
        .get("timeouts")
        .map_or(Some(UpstreamTimeouts::default()), |n| {
            timeouts(cx, n, &obj.at("timeouts"))
        });
    let protocol = obj
        .get("protocol")
        .map_or(Some(UpstreamProtocol::Http1), |n| {
            let p = obj.at("protocol");
            match string(cx, n, &p)?.as_str() {
                "http1" => Some(UpstreamProtocol::Http1),
                "http2" => Some(UpstreamProtocol::Http2),
                other => {
                    cx.error_hint(
                        n,
                        &p,
                        format!("unknown protocol `{other}`"),
                        "use `http1` or `http2`",
                    );
                    None
                }
            }
        });
    let tls = obj
        .get("tls")
        .map_or(Some(None), |n| tls(cx, n, &obj.at("tls")));
    let pool = obj.get("pool").map_or(Some(Pool::default()), |n| {
        let o = Obj::new(cx, n, &obj.at("pool"), &["max_idle_per_target"])?;
        let mut pool = Pool::default();
        if let Some(m) = o.get("max_idle_per_target") {
            pool.max_idle_per_target = usize_min(cx, m, &o.at("max_idle_per_target"), 0)?;
        }
        Some(pool)
    });
    let circuit_breaker = obj.get("circuit_breaker").map_or(Some(None), |n| {
        super::breaker::circuit_breaker(cx, n, &obj.at("circuit_breaker"))
    });
    let bulkhead = (obj.get("bulkhead")).map_or(Some(None), |n| {
        super::breaker::bulkhead(cx, n, &obj.at("bulkhead"))
    });
    let retry = (obj.get("retry")).map_or(Some((None, None)), |n| {
        super::resilience::upstream_retry(cx, n, &obj.at("retry"))
    });
    Some(Upstream {
        name,
        targets: targets?,
        balance: balance?,
        health_check: health_check?,
        passive_health: passive_health?,
        timeouts: timeouts?,
        protocol: protocol?,
        tls: tls?,
        pool: pool?,
        resilience: crate::model::UpstreamResilience {
            retry: retry.clone()?.0,
            retry_budget: retry?.1,
            circuit_breaker: circuit_breaker?,
            bulkhead: bulkhead?,
            ..Default::default()
        },
    })
}

/// `host:port` or `{ address: host:port, weight: N }`.
fn target(cx: &mut Ctx, node: &Node, path: &str) -> Option<Target> {
    let (addr_node, addr_path, weight) = match &node.kind {
        Kind::Map(_) => {
            let obj = Obj::new(cx, node, path, &["address", "weight"])?;
            let weight = match obj.get("weight") {
                Some(n) => {
                    let p = obj.at("weight");
                    if matches!(n.kind, Kind::Int(0)) {
                        cx.error_hint(
                            n,
                            &p,
                            "weight must be at least 1",
                            "remove the target to take it out of rotation",
                        );
                        None
                    } else {
                        u32_min(cx, n, &p, 1)
                    }
                }
                None => Some(1),
            };
            (obj.req(cx, "address")?, obj.at("address"), weight)
        }
        _ => (node, path.to_owned(), Some(1)),
    };
    let address = non_empty(cx, addr_node, &addr_path)?;
    let address = address.trim().to_owned();
    if !valid_host_port(&address) {
        cx.error_hint(
            addr_node,
            &addr_path,
            format!("invalid target address `{address}`"),
            "write `host:port`, e.g. `10.0.0.1:8080`, `users.internal:80` or `[::1]:8080`",
        );
        return None;
    }
    Some(Target {
        address,
        weight: weight?,
    })
}

/// `host:port` with an IP literal or a DNS name, and a port.
pub(crate) fn valid_host_port(s: &str) -> bool {
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().is_err() || host.contains(':') {
        return false;
    }
    host.parse::<IpAddr>().is_ok() || valid_dns_name(host)
}

/// A DNS name: labels of letters, digits, `-` and `_`, 1–63 characters, not starting or ending with `-`.
pub(crate) fn valid_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

const POLICIES: &[&str] = &["round_robin", "least_request", "random", "consistent_hash"];

fn balance(cx: &mut Ctx, node: &Node, path: &str) -> Option<Balance> {
    let (policy_node, obj) = match &node.kind {
        Kind::Map(_) => {
            let obj = Obj::new(cx, node, path, &["policy", "key", "algorithm"])?;
            (obj.req(cx, "policy")?, Some(obj))
        }
        _ => (node, None),
    };
    let policy_path = obj.as_ref().map_or(path.to_owned(), |o| o.at("policy"));
    let policy = string(cx, policy_node, &policy_path)?;
    let simple = match policy.as_str() {
        "round_robin" => Some(Balance::RoundRobin),
        "least_request" => Some(Balance::LeastRequest),
        "random" => Some(Balance::Random),
        "consistent_hash" => None,
        other => {
            let hint = closest(other, POLICIES.iter().copied()).map_or_else(
                || format!("one of {}", POLICIES.join(", ")),
                |b| format!("did you mean `{b}`?"),
            );
            cx.error_hint(
                policy_node,
                &policy_path,
                format!("unknown balancing policy `{other}`"),
                hint,
            );
            return None;
        }
    };
    if let Some(simple) = simple {
        if let Some(obj) = &obj {
            for key in ["key", "algorithm"] {
                if let Some(n) = obj.get(key) {
                    cx.error(
                        n,
                        &obj.at(key),
                        format!("`{key}` only applies to `policy: consistent_hash`"),
                    );
                }
            }
        }
        return Some(simple);
    }
    let Some(obj) = obj else {
        cx.error_hint(
            node,
            path,
            "`consistent_hash` needs a `key`",
            "write `{ policy: consistent_hash, key: \"header:x-user-id\" }`",
        );
        return None;
    };
    let key = obj
        .req(cx, "key")
        .and_then(|n| hash_key(cx, n, &obj.at("key")));
    let algorithm = match obj.get("algorithm") {
        None => Some(HashAlgorithm::Maglev),
        Some(n) => {
            let p = obj.at("algorithm");
            match string(cx, n, &p)?.as_str() {
                "maglev" => Some(HashAlgorithm::Maglev),
                "ring" => Some(HashAlgorithm::Ring),
                other => {
                    cx.error_hint(
                        n,
                        &p,
                        format!("unknown hash algorithm `{other}`"),
                        "use `maglev` or `ring`",
                    );
                    None
                }
            }
        }
    };
    Some(Balance::ConsistentHash {
        key: key?,
        algorithm: algorithm?,
    })
}

fn hash_key(cx: &mut Ctx, node: &Node, path: &str) -> Option<HashKey> {
    let text = string(cx, node, path)?;
    let bad = |cx: &mut Ctx| {
        cx.error_hint(
            node,
            path,
            format!("invalid hash key `{text}`"),
            "use `header:NAME`, `cookie:NAME`, `query:NAME` or `client_ip`",
        );
    };
    if text == "client_ip" {
        return Some(HashKey::ClientIp);
    }
    let Some((source, name)) = text.split_once(':') else {
        bad(cx);
        return None;
    };
    if name.is_empty() {
        bad(cx);
        return None;
    }
    match source {
        "header" => header_name_str(cx, node, path, name).map(HashKey::Header),
        "cookie" => Some(HashKey::Cookie(name.to_owned())),
        "query" => Some(HashKey::Query(name.to_owned())),
        _ => {
            bad(cx);
            None
        }
    }
}

fn timeouts(cx: &mut Ctx, node: &Node, path: &str) -> Option<UpstreamTimeouts> {
    super::resilience::timeouts(cx, node, path)
}

fn tls(cx: &mut Ctx, node: &Node, path: &str) -> Option<Option<UpstreamTls>> {
    let mut tls = UpstreamTls {
        server_name: None,
        ca: None,
        insecure_skip_verify: false,
    };
    if let Kind::Bool(on) = node.kind {
        return Some(on.then_some(tls));
    }
    let obj = Obj::new(
        cx,
        node,
        path,
        &["server_name", "ca", "insecure_skip_verify"],
    )?;
    let mut ok = true;
    if let Some(n) = obj.get("server_name") {
        let name = non_empty(cx, n, &obj.at("server_name"));
        ok &= name.is_some();
        tls.server_name = name;
    }
    if let Some(n) = obj.get("ca") {
        let ca = non_empty(cx, n, &obj.at("ca"));
        ok &= ca.is_some();
        tls.ca = ca.map(|ca| cx.resolve_path(&ca));
    }
    if let Some(n) = obj.get("insecure_skip_verify") {
        ok &= set(
            &mut tls.insecure_skip_verify,
            boolean(cx, n, &obj.at("insecure_skip_verify")),
        );
    }
    ok.then_some(Some(tls))
}
