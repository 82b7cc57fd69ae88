//! Counter keys: the configured key parts of a request, joined, plus the limit's identity.

use std::fmt::Write as _;

use gatehouse_config::model::{Algorithm, KeyPart, Limit};
use http::request;
use sha2::{Digest, Sha256};

use crate::RequestContext;
use crate::builtin::key_auth::PresentedKeyHash;

/// Keys longer than this (in bytes) are replaced by the SHA-256 of their parts.
pub const MAX_KEY_BYTES: usize = 200;

/// The request's key: every part's value, escaped, joined with `:`.
///
/// Values are escaped (`%` → `%25`, `:` → `%3A`) so that no value can forge a separator; the
/// `ip:` prefix of the consumer fallback is not escaped, so no consumer id can collide with it.
pub fn request_key(parts: &[KeyPart], cx: &RequestContext, req: &request::Parts) -> String {
    let mut key = String::new();
    let api_key = req.extensions.get::<PresentedKeyHash>();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push(':');
        }
        let identity = cx.identity.as_ref();
        match part {
            // The presented API key's hash (set by `key_auth`), shortened to 128 bits.
            KeyPart::ApiKey if let Some(hash) = api_key => {
                key.push_str("key:");
                escape_into(&mut key, hash.0.get(..32).unwrap_or(&hash.0));
            }
            // Without a presented key (another method authenticated the caller), as `consumer`.
            KeyPart::Consumer | KeyPart::ApiKey => {
                match identity.and_then(|id| id.consumer_id.as_deref()) {
                    Some(id) => escape_into(&mut key, id),
                    None => {
                        key.push_str("ip:");
                        escape_into(&mut key, &cx.client_ip.to_string());
                    }
                }
            }
            KeyPart::User => escape_into(
                &mut key,
                identity.and_then(|id| id.subject.as_deref()).unwrap_or(""),
            ),
            KeyPart::Tenant => escape_into(
                &mut key,
                identity.and_then(|id| id.tenant.as_deref()).unwrap_or(""),
            ),
            KeyPart::ClientIp => escape_into(&mut key, &cx.client_ip.to_string()),
            KeyPart::Route => escape_into(&mut key, cx.route.as_deref().unwrap_or("")),
            KeyPart::Header(name) => {
                let value = req.headers.get(name).map(|v| v.as_bytes()).unwrap_or(b"");
                escape_into(&mut key, &String::from_utf8_lossy(value));
            }
            KeyPart::PathParam(name) => {
                let value = cx
                    .params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or("", |(_, v)| v.as_str());
                escape_into(&mut key, value);
            }
            KeyPart::Literal(value) => escape_into(&mut key, value),
        }
    }
    key
}

/// The limit's identity, `<requests>/<per ms>/<algorithm>`, so that several limits on one key
/// never share a counter (`10/1000/sliding_window`, `10/1000/token_bucket+20`).
pub fn limit_id(limit: &Limit) -> String {
    let per_ms = limit.per.as_millis();
    match limit.algorithm {
        Algorithm::SlidingWindow => format!("{}/{per_ms}/sliding_window", limit.requests),
        Algorithm::TokenBucket => format!(
            "{}/{per_ms}/token_bucket+{}",
            limit.requests,
            limit.burst.unwrap_or(limit.requests)
        ),
    }
}

/// The counter key of `request_key` under `limit`: `<limit id>:<request key>`, with a request key
/// longer than [`MAX_KEY_BYTES`] replaced by `%sha256:<hex>` (`%` never occurs in an escaped key).
pub fn counter_key(limit: &Limit, request_key: &str) -> String {
    counter_key_with(&limit_id(limit), request_key)
}

/// [`counter_key`] with the limit's id already computed ([`limit_id`]): one allocation, sized
/// up front.
pub fn counter_key_with(limit_id: &str, request_key: &str) -> String {
    let hashed = request_key.len() > MAX_KEY_BYTES;
    let tail = if hashed { 8 + 64 } else { request_key.len() };
    let mut key = String::with_capacity(limit_id.len() + 1 + tail);
    key.push_str(limit_id);
    key.push(':');
    if hashed {
        key.push_str("%sha256:");
        for b in Sha256::digest(request_key.as_bytes()) {
            let _ = write!(key, "{b:02x}");
        }
    } else {
        key.push_str(request_key);
    }
    key
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
}
