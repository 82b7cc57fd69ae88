//! `identity:`, `consumer_groups:`, `consumers:`, `routes[].auth` and
//! `listeners[].tls.client_certificates`.

use std::collections::{BTreeMap, HashMap};

use http::HeaderName;

use super::scalar::{boolean, choice, each, header_name, non_empty, one_or_many, string};
use super::walk::{Obj, closest, join, list};
use super::{Ctx, Site, site_of};
use crate::file::{Kind, Node};
use crate::model::{
    AuthMode, CertificateIdentity, ClientCertMode, ClientCertificates, Consumer, ConsumerGroup,
    IdentitySettings, InvalidCertAction, RouteAuth,
};

/// Headers that cannot carry an identity: hop-by-hop headers (removed by every proxy) and headers
/// the gateway or the upstream need intact (the identity headers are stripped from every request).
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "authorization",
    "cookie",
];

/// The identity header keys, in order, with their slots in [`IdentitySettings`].
const IDENTITY_KEYS: &[&str] = &[
    "user_id_header",
    "roles_header",
    "consumer_id_header",
    "tenant_id_header",
    "plan_header",
    "client_cert_header",
    "claim_headers",
    "strip_headers",
    "strip_prefixes",
];

/// `identity:`.
pub(crate) fn identity(cx: &mut Ctx, node: &Node, path: &str) -> Option<IdentitySettings> {
    let obj = Obj::new(cx, node, path, IDENTITY_KEYS)?;
    let mut s = IdentitySettings::default();
    let mut ok = true;
    // Every header in use: (key path, name, the node that set it; `None` = a default).
    let mut headers: Vec<(String, HeaderName, Option<&Node>)> = Vec::new();
    let slots: [(&str, &mut HeaderName); 6] = [
        ("user_id_header", &mut s.user_id_header),
        ("roles_header", &mut s.roles_header),
        ("consumer_id_header", &mut s.consumer_id_header),
        ("tenant_id_header", &mut s.tenant_id_header),
        ("plan_header", &mut s.plan_header),
        ("client_cert_header", &mut s.client_cert_header),
    ];
    for (key, slot) in slots {
        let p = obj.at(key);
        match obj.get(key) {
            Some(n) => match header_name(cx, n, &p) {
                Some(name) => {
                    headers.push((p, name.clone(), Some(n)));
                    *slot = name;
                }
                None => ok = false,
            },
            None => headers.push((p, slot.clone(), None)),
        }
    }
    if let Some(n) = obj.get("claim_headers") {
        let p = obj.at("claim_headers");
        match Obj::any_keys(cx, n, &p, "a map of claim path to header name") {
            Some(map) => {
                for (claim, key, value) in map.entries() {
                    let cp = join(&p, &claim);
                    if !valid_claim_path(&claim) {
                        cx.error_hint(
                            key,
                            &cp,
                            format!("invalid claim path `{claim}`"),
                            "write a claim name or a dot-separated path, e.g. `email` or `org.id`",
                        );
                        ok = false;
                        continue;
                    }
                    match header_name(cx, value, &cp) {
                        Some(name) => {
                            headers.push((cp, name.clone(), Some(value)));
                            s.claim_headers.push((claim, name));
                        }
                        None => ok = false,
                    }
                }
            }
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("strip_headers") {
        match each(cx, n, &obj.at("strip_headers"), strip_header) {
            Some(names) => s.strip_headers = dedup(names),
            None => ok = false,
        }
    }
    if let Some(n) = obj.get("strip_prefixes") {
        match each(cx, n, &obj.at("strip_prefixes"), strip_prefix) {
            Some(prefixes) => s.strip_prefixes = dedup(prefixes),
            None => ok = false,
        }
    }
    for (i, (p, name, n)) in headers.iter().enumerate() {
        let Some(n) = n else { continue };
        if RESERVED_HEADERS.contains(&name.as_str()) {
            cx.error_hint(
                n,
                p,
                format!("`{name}` cannot carry an identity"),
                "identity headers are removed from every client request; choose a dedicated name such as `x-user-id`",
            );
            ok = false;
            continue;
        }
        // Distinct from every other identity header: explicit ones set before it, and defaults.
        let other = headers
            .iter()
            .enumerate()
            .find(|(j, (_, other, on))| *j != i && other == name && (on.is_none() || *j < i));
        if let Some((_, (other_path, _, other_node))) = other {
            let (message, hint) = match other_node {
                Some(_) => (
                    format!("header `{name}` is already used by `{other_path}`"),
                    "each identity header must be distinct".to_owned(),
                ),
                None => (
                    format!("header `{name}` is the default of `{other_path}`"),
                    format!(
                        "identity headers must be distinct: choose another name, or set `{other_path}` too"
                    ),
                ),
            };
            cx.error_hint(n, p, message, hint);
            ok = false;
        }
    }
    ok.then_some(s)
}

/// `identity.strip_headers[i]`: a header name, `_` written as `-`; never one the gateway needs.
fn strip_header(cx: &mut Ctx, node: &Node, path: &str) -> Option<HeaderName> {
    let name = header_name(cx, node, path)?;
    let dashed = name.as_str().replace('_', "-");
    if RESERVED_HEADERS.contains(&dashed.as_str()) {
        cx.error_hint(
            node,
            path,
            format!("`{name}` cannot be stripped"),
            "list identity headers of other gateways, e.g. `x-consumer-username`",
        );
        return None;
    }
    HeaderName::from_bytes(dashed.as_bytes()).ok()
}

/// `identity.strip_prefixes[i]`: the start of header names (lower-cased, `_` written as `-`) that
/// covers none of the headers the gateway needs.
fn strip_prefix(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = non_empty(cx, node, path)?;
    let prefix = text.to_ascii_lowercase().replace('_', "-");
    if HeaderName::from_bytes(prefix.as_bytes()).is_err() {
        cx.error_hint(
            node,
            path,
            format!("`{text}` is not the start of a header name"),
            "use header-name characters only, e.g. `x-auth-request-`",
        );
        return None;
    }
    if let Some(needed) = RESERVED_HEADERS.iter().find(|h| h.starts_with(&prefix)) {
        cx.error_hint(
            node,
            path,
            format!("prefix `{text}` would strip `{needed}`"),
            "use a longer prefix that only identity headers start with, e.g. `x-auth-request-`",
        );
        return None;
    }
    Some(prefix)
}

/// A claim path: non-empty dot-separated names.
pub(crate) fn valid_claim_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('.')
            .all(|seg| !seg.is_empty() && !seg.chars().any(char::is_whitespace))
}

/// `consumer_groups:`: each group with where its name was defined.
pub(crate) fn consumer_groups(cx: &mut Ctx, node: &Node, path: &str) -> Vec<(ConsumerGroup, Site)> {
    let Some(items) = list(cx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(obj) = Obj::new(cx, item, &p, &["name", "plan", "roles"]) else {
            continue;
        };
        let name_node = obj.req(cx, "name");
        let name = name_node.and_then(|n| non_empty(cx, n, &obj.at("name")));
        if let (Some(name), Some(n)) = (&name, name_node) {
            cx.unique("consumer group", name, n, &obj.at("name"));
        }
        let plan = match obj.get("plan") {
            Some(n) => super::limits::plan_ref(cx, n, &obj.at("plan")).map(Some),
            None => Some(None),
        };
        let roles = roles(cx, &obj, "roles");
        if let (Some(name), Some(plan), Some(roles), Some(n)) = (name, plan, roles, name_node) {
            let site = site_of(cx, n);
            out.push((ConsumerGroup { name, plan, roles }, site));
        }
    }
    out
}

/// An optional list of roles (non-empty strings), deduplicated in order.
fn roles(cx: &mut Ctx, obj: &Obj<'_>, key: &str) -> Option<Vec<String>> {
    match obj.get(key) {
        Some(n) => each(cx, n, &obj.at(key), role).map(dedup),
        None => Some(Vec::new()),
    }
}

/// A role: forwardable in the comma-separated roles header, so without `,` or whitespace.
fn role(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let role = forwardable(cx, node, path)?;
    if role.contains(',') || role.contains(char::is_whitespace) {
        cx.error_hint(
            node,
            path,
            format!("role `{role}` contains `,` or a space"),
            "roles travel comma-separated in one header; use e.g. `orders.read`",
        );
        return None;
    }
    Some(role)
}

/// A non-empty string that can be forwarded as a header value as it is: no control characters,
/// no leading or trailing whitespace (a parser would trim it and see another identity).
pub(crate) fn forwardable(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let value = non_empty(cx, node, path)?;
    if value.chars().any(char::is_control) || value.trim() != value {
        cx.error_hint(
            node,
            path,
            "contains control characters or leading/trailing whitespace",
            "identity values are forwarded in headers; write them on one line, without padding",
        );
        return None;
    }
    Some(value)
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Credentials already claimed by a consumer, across all files.
#[derive(Default)]
pub(crate) struct Credentials {
    /// API key hash → (consumer id, where).
    keys: HashMap<String, (String, Site)>,
    /// Certificate identity → (consumer id, where).
    certificates: HashMap<CertificateIdentity, (String, Site)>,
}

const CONSUMER_KEYS: &[&str] = &[
    "id",
    "tenant",
    "plan",
    "groups",
    "roles",
    "api_keys",
    "certificates",
    "jwt_subjects",
    "metadata",
];

/// `consumers:`: ids unique, groups resolved into plan and roles, credentials unique.
pub(crate) fn consumers(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    groups: &[(ConsumerGroup, Site)],
    credentials: &mut Credentials,
) -> Vec<Consumer> {
    let Some(items) = list(cx, node, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(c) = consumer(cx, item, &format!("{path}[{i}]"), groups, credentials) {
            out.push(c);
        }
    }
    out
}

fn consumer(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    groups: &[(ConsumerGroup, Site)],
    credentials: &mut Credentials,
) -> Option<Consumer> {
    let obj = Obj::new(cx, node, path, CONSUMER_KEYS)?;
    let id_node = obj.req(cx, "id");
    let id = id_node.and_then(|n| forwardable(cx, n, &obj.at("id")));
    if let (Some(id), Some(n)) = (&id, id_node) {
        cx.unique("consumer id", id, n, &obj.at("id"));
        if cx.consumer_set.insert(id.clone()) {
            cx.consumer_ids.push(id.clone());
        }
    }
    let owner = id.clone().unwrap_or_else(|| "?".to_owned());
    let tenant = match obj.get("tenant") {
        Some(n) => forwardable(cx, n, &obj.at("tenant")).map(Some),
        None => Some(None),
    };
    let plan = match obj.get("plan") {
        Some(n) => super::limits::plan_ref(cx, n, &obj.at("plan")).map(Some),
        None => Some(None),
    };
    let own_roles = roles(cx, &obj, "roles");
    let member_of = match obj.get("groups") {
        Some(n) => each(cx, n, &obj.at("groups"), |cx, n, p| {
            group_ref(cx, n, p, groups)
        }),
        None => Some(Vec::new()),
    };
    let api_key_hashes = match obj.get("api_keys") {
        Some(n) => each(cx, n, &obj.at("api_keys"), |cx, n, p| {
            api_key(cx, n, p, &owner, credentials)
        }),
        None => Some(Vec::new()),
    };
    let certificates = match obj.get("certificates") {
        Some(n) => each(cx, n, &obj.at("certificates"), |cx, n, p| {
            certificate_identity(cx, n, p, &owner, credentials)
        }),
        None => Some(Vec::new()),
    };
    let jwt_subjects = match obj.get("jwt_subjects") {
        Some(n) => each(cx, n, &obj.at("jwt_subjects"), non_empty).map(dedup),
        None => Some(Vec::new()),
    };
    let metadata = match obj.get("metadata") {
        Some(n) => metadata(cx, n, &obj.at("metadata")),
        None => Some(BTreeMap::new()),
    };

    let member_of: Vec<&ConsumerGroup> = member_of?;
    let mut plan = plan?;
    if plan.is_none() {
        plan = member_of.iter().find_map(|g| g.plan.clone());
    }
    let mut roles = own_roles?;
    for g in &member_of {
        roles.extend(g.roles.iter().cloned());
    }
    Some(Consumer {
        id: id?,
        tenant: tenant?,
        plan,
        groups: dedup(member_of.iter().map(|g| g.name.clone()).collect()),
        roles: dedup(roles),
        api_key_hashes: api_key_hashes?,
        certificates: certificates?,
        jwt_subjects: jwt_subjects?,
        metadata: metadata?,
    })
}

/// A reference to a consumer group, with "did you mean".
fn group_ref<'g>(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    groups: &'g [(ConsumerGroup, Site)],
) -> Option<&'g ConsumerGroup> {
    let name = non_empty(cx, node, path)?;
    if let Some((g, _)) = groups.iter().find(|(g, _)| g.name == name) {
        return Some(g);
    }
    if cx.incomplete || cx.seen.contains_key(&("consumer group", name.clone())) {
        // The group exists but was refused (already reported), or a file failed to parse.
        return None;
    }
    let names = groups.iter().map(|(g, _)| g.name.as_str());
    let hint = match closest(&name, names.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None if groups.is_empty() => "no consumer groups are defined".to_owned(),
        None => format!(
            "defined groups: {}",
            names.take(10).collect::<Vec<_>>().join(", ")
        ),
    };
    cx.error_hint(node, path, format!("unknown consumer group `{name}`"), hint);
    None
}

/// `{ sha256: <64 hex> }` → the lower-case hash, unique across consumers.
fn api_key(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    owner: &str,
    credentials: &mut Credentials,
) -> Option<String> {
    let clear = match &node.kind {
        Kind::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(k.text().as_deref(), Some("key" | "api_key" | "value"))),
        _ => None,
    };
    if let Some((key, _)) = clear {
        cx.error_hint(
            key,
            path,
            "API keys are stored as SHA-256 hashes, never in clear",
            "run `gatehouse hash-key` and write `{ sha256: <64 hex characters> }`",
        );
        return None;
    }
    let obj = Obj::new(cx, node, path, &["sha256"])?;
    let n = obj.req(cx, "sha256")?;
    let p = obj.at("sha256");
    let text = string(cx, n, &p)?;
    let hash = text.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        cx.error_hint(
            n,
            &p,
            format!(
                "`sha256` must be 64 hexadecimal characters, found {} characters",
                text.trim().chars().count()
            ),
            "run `gatehouse hash-key` to hash a key",
        );
        return None;
    }
    let site = site_of(cx, n);
    if let Some((first_owner, first)) = credentials.keys.get(&hash) {
        let message = if first_owner == owner {
            format!("this API key hash is listed twice for consumer `{owner}` (first at {first})")
        } else {
            format!(
                "this API key hash already belongs to consumer `{first_owner}` (at {first}); it cannot also belong to `{owner}`"
            )
        };
        cx.error_hint(n, &p, message, "an API key identifies exactly one consumer");
        return None;
    }
    credentials
        .keys
        .insert(hash.clone(), (owner.to_owned(), site));
    Some(hash)
}

/// `{ cn: … } | { dns: … } | { uri: … }`, unique across consumers.
fn certificate_identity(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    owner: &str,
    credentials: &mut Credentials,
) -> Option<CertificateIdentity> {
    const KINDS: &[&str] = &["cn", "dns", "uri"];
    let obj = Obj::new(cx, node, path, KINDS)?;
    let (kind, n, p) = obj.exactly_one(
        cx,
        KINDS,
        "a certificate identity needs exactly one of `cn`, `dns`, `uri`",
        "e.g. `{ cn: acme-client }` or `{ uri: \"spiffe://example.org/ns/a/sa/b\" }`",
    )?;
    let value = non_empty(cx, n, &p)?;
    let value = value.trim().to_owned();
    let identity = match kind {
        "cn" => CertificateIdentity::CommonName(value),
        "dns" => CertificateIdentity::DnsSan(value.to_ascii_lowercase()),
        _ => {
            if !value.contains(':') {
                cx.error_hint(
                    n,
                    &p,
                    format!("`{value}` is not a URI"),
                    "write a URI SAN such as `spiffe://example.org/ns/a/sa/b`",
                );
                return None;
            }
            CertificateIdentity::UriSan(value)
        }
    };
    if let Some((first_owner, first)) = credentials.certificates.get(&identity) {
        cx.error_hint(
            n,
            &p,
            format!(
                "certificate identity `{kind}: {}` already maps to consumer `{first_owner}` (at {first})",
                obj.get(kind).and_then(|n| n.text()).unwrap_or_default()
            ),
            "a certificate identity maps to exactly one consumer",
        );
        return None;
    }
    let site = site_of(cx, n);
    credentials
        .certificates
        .insert(identity.clone(), (owner.to_owned(), site));
    Some(identity)
}

/// A map of string → string (scalars taken as spelled).
fn metadata(cx: &mut Ctx, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
    let obj = Obj::any_keys(cx, node, path, "a map of name to value")?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name, _, value) in obj.entries() {
        match string(cx, value, &join(path, &name)) {
            Some(v) => {
                out.insert(name, v);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `routes[].auth: { mode: any_of | all_of, anonymous: <consumer id> }`.
pub(crate) fn route_auth(cx: &mut Ctx, node: &Node, path: &str) -> Option<RouteAuth> {
    let obj = Obj::new(cx, node, path, &["mode", "anonymous"])?;
    let mode = match obj.get("mode") {
        Some(n) => choice(
            cx,
            n,
            &obj.at("mode"),
            &[("any_of", AuthMode::AnyOf), ("all_of", AuthMode::AllOf)],
        ),
        None => Some(AuthMode::AnyOf),
    };
    let anonymous = match obj.get("anonymous") {
        Some(n) => consumer_ref(cx, n, &obj.at("anonymous")).map(Some),
        None => Some(None),
    };
    Some(RouteAuth {
        mode: mode?,
        anonymous: anonymous?,
    })
}

/// A reference to a consumer id, with "did you mean".
fn consumer_ref(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let id = non_empty(cx, node, path)?;
    if cx.consumer_set.contains(&id) || cx.incomplete {
        return Some(id);
    }
    let candidates = cx.consumer_ids.iter().take(1000).map(String::as_str);
    let hint = match closest(&id, candidates) {
        Some(best) => format!("did you mean `{best}`?"),
        None if cx.consumer_ids.is_empty() => {
            "no consumers are defined; add one under `consumers:`".to_owned()
        }
        None if cx.consumer_ids.len() <= 10 => {
            format!("defined consumers: {}", cx.consumer_ids.join(", "))
        }
        None => "check the ids under `consumers:`".to_owned(),
    };
    cx.error_hint(node, path, format!("unknown consumer `{id}`"), hint);
    None
}

/// `listeners[].tls.client_certificates: { ca, mode, on_invalid }`.
pub(crate) fn client_certificates(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
) -> Option<ClientCertificates> {
    let obj = Obj::new(cx, node, path, &["ca", "mode", "on_invalid"])?;
    let ca = obj.req(cx, "ca").and_then(|n| {
        let p = obj.at("ca");
        let files = one_or_many(cx, n, &p)?;
        if files.is_empty() {
            cx.error(n, &p, "at least one CA file is required");
            return None;
        }
        let mut out = Vec::with_capacity(files.len());
        let mut ok = true;
        for (i, file) in files.iter().enumerate() {
            let (at, ip) = match &n.kind {
                Kind::Seq(items) => (&items[i], format!("{p}[{i}]")),
                _ => (n, p.clone()),
            };
            let resolved = cx.resolve_path(file);
            ok &= readable_file(cx, at, &ip, file, &resolved, "CA file");
            out.push(resolved);
        }
        ok.then_some(out)
    });
    let mode = match obj.get("mode") {
        Some(n) => choice(
            cx,
            n,
            &obj.at("mode"),
            &[
                ("request", ClientCertMode::Request),
                ("require", ClientCertMode::Require),
            ],
        ),
        None => Some(ClientCertMode::Require),
    };
    let on_invalid = match obj.get("on_invalid") {
        Some(n) => choice(
            cx,
            n,
            &obj.at("on_invalid"),
            &[
                ("fail_handshake", InvalidCertAction::FailHandshake),
                ("unauthorized", InvalidCertAction::Unauthorized),
            ],
        ),
        None => Some(InvalidCertAction::FailHandshake),
    };
    Some(ClientCertificates {
        ca: ca?,
        mode: mode?,
        on_invalid: on_invalid?,
    })
}

/// Reports (and returns false) when `resolved` is not a readable regular file.
pub(crate) fn readable_file(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    shown: &str,
    resolved: &std::path::Path,
    what: &str,
) -> bool {
    let problem = match std::fs::metadata(resolved) {
        Ok(meta) if !meta.is_file() => Some("is not a file".to_owned()),
        Ok(_) => std::fs::File::open(resolved)
            .err()
            .map(|e| format!("cannot be read: {}", e.kind())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist".to_owned()),
        Err(e) => Some(format!("cannot be read: {}", e.kind())),
    };
    match problem {
        None => true,
        Some(problem) => {
            cx.error_hint(
                node,
                path,
                format!(
                    "{what} `{shown}` {problem} (looked for {})",
                    resolved.display()
                ),
                "relative paths start from the configuration file's directory",
            );
            false
        }
    }
}

/// `true`/`false` helper shared by the auth plugins.
pub(crate) fn opt_bool(cx: &mut Ctx, obj: &Obj<'_>, key: &str, default: bool) -> Option<bool> {
    match obj.get(key) {
        Some(n) => boolean(cx, n, &obj.at(key)),
        None => Some(default),
    }
}
