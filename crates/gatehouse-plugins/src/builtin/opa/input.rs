//! The input document a policy sees.

use http::{HeaderName, request};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::RequestContext;

/// Builds the input document:
///
/// ```json
/// { "method": "GET", "path": "/orders/42", "path_params": {"id": "42"},
///   "query": {"page": "2", "tag": ["a", "b"]}, "headers": {"x-env": "prod"},
///   "client_ip": "192.0.2.1", "consumer": {"id": "acme", "tenant": "acme-corp", "plan": "pro",
///   "roles": ["orders.read"], "subject": "acme", "method": "key_auth", "anonymous": false},
///   "claims": null, "route": "orders" }
/// ```
///
/// - `path`: normalized as the router matched it (dot-segments removed, unreserved escapes
///   decoded); `None` when the path cannot be normalized (the caller denies).
/// - `query`: names and values percent-decoded (`+` is a space); a repeated name gives an array of
///   its values in order, a single one a string.
/// - `headers`: only the allowlisted names (lower-case); repeated fields are joined with `", "`;
///   bytes that are not UTF-8 become U+FFFD.
/// - `consumer` / `claims`: `null` without an authenticated identity; `claims` is also `null` when
///   the method produced none (API keys, mTLS).
pub fn build(cx: &RequestContext, req: &request::Parts, allowlist: &[HeaderName]) -> Option<Value> {
    let path = gatehouse_router::normalize_path(req.uri.path()).ok()?;
    let path_params: Map<String, Value> = cx
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut headers = Map::new();
    for name in allowlist {
        let mut values = req.headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            continue;
        }
        let joined = values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        headers.insert(name.as_str().to_owned(), Value::String(joined));
    }
    let (consumer, claims) = match &cx.identity {
        Some(id) => (
            json!({
                "id": id.consumer_id,
                "tenant": id.tenant,
                "plan": id.plan,
                "roles": id.roles,
                "subject": id.subject,
                "method": id.method,
                "anonymous": id.anonymous,
            }),
            id.claims.clone().unwrap_or(Value::Null),
        ),
        None => (Value::Null, Value::Null),
    };
    Some(json!({
        "method": req.method.as_str(),
        "path": path,
        "path_params": path_params,
        "query": query(req.uri.query().unwrap_or("")),
        "headers": headers,
        "client_ip": cx.client_ip.to_string(),
        "consumer": consumer,
        "claims": claims,
        "route": cx.route.as_deref(),
    }))
}

fn decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// The query string as an object (see [`build`]).
pub fn query(raw: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name), Value::String(decode(value)));
        match out.get_mut(&name) {
            None => {
                out.insert(name, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                out.insert(name, Value::Array(vec![first, value]));
            }
        }
    }
    out
}
