//! A policy's decision: `true` / `false`, or `{allow, status?, headers?, reason?}`.

use http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;

/// What the policy decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allow: bool,
    /// Status of a denial (default 403; only 400–599 is accepted, else 403).
    pub status: StatusCode,
    /// Headers: added to the upstream request on allow, to the refusal on deny.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Why (logged, never sent to the client).
    pub reason: Option<String>,
}

/// Header names a policy may not set: framing, connection management and routing are the
/// gateway's.
const RESERVED: [HeaderName; 10] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
];

impl Decision {
    /// Reads a decision from the query's value. `Err` (with what is wrong) for anything else than a
    /// boolean or an object whose `allow` is a boolean; the caller denies. Within an object, a bad
    /// `status` falls back to 403 and bad or reserved headers are dropped, with a warning.
    pub fn parse(value: Value) -> Result<Decision, String> {
        let fields = match value {
            Value::Bool(allow) => {
                return Ok(Decision {
                    allow,
                    status: StatusCode::FORBIDDEN,
                    headers: Vec::new(),
                    reason: None,
                });
            }
            Value::Object(fields) => fields,
            other => {
                return Err(format!(
                    "decision is neither a boolean nor an object: {other}"
                ));
            }
        };
        let allow = match fields.get("allow") {
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("decision `allow` is not a boolean".to_owned()),
            None => return Err("decision has no `allow`".to_owned()),
        };
        let status = match fields.get("status") {
            None | Some(Value::Null) => StatusCode::FORBIDDEN,
            Some(v) => match v
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (400..=599).contains(n))
                .and_then(|n| StatusCode::from_u16(n).ok())
            {
                Some(s) => s,
                None => {
                    tracing::warn!(status = %v, "opa: decision status is not 400-599; using 403");
                    StatusCode::FORBIDDEN
                }
            },
        };
        let mut headers = Vec::new();
        if let Some(Value::Object(map)) = fields.get("headers") {
            for (name, value) in map {
                let parsed = HeaderName::from_bytes(name.as_bytes())
                    .ok()
                    .zip(value.as_str().and_then(|v| HeaderValue::from_str(v).ok()));
                match parsed {
                    Some((n, v)) if !RESERVED.contains(&n) => headers.push((n, v)),
                    _ => tracing::warn!(header = %name, "opa: decision header dropped"),
                }
            }
        }
        let reason = match fields.get("reason") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        Ok(Decision {
            allow,
            status,
            headers,
            reason,
        })
    }
}
