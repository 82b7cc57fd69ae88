//! Token parsing and checks: the header is vetted (algorithm, `crit`, key-naming headers) and the
//! issuer chosen from the unverified `iss` before any key is looked at; the signature is checked
//! with a key whose type matches the algorithm; then the registered and configured claims.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::Value;

use super::keys::{KeySet, parse_alg};

/// A token split and decoded, not yet verified.
pub struct Parsed<'t> {
    /// The header's algorithm (never `none`).
    pub alg: Algorithm,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The payload (a JSON object).
    pub claims: Value,
    /// `header.payload`, the signed bytes.
    message: &'t str,
    /// The signature segment (base64url).
    signature: &'t str,
}

/// Splits and decodes `token` and vets its header. Errors are logged reasons.
pub fn parse(token: &str) -> Result<Parsed<'_>, &'static str> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS");
    };
    let header = decode_object(h).ok_or("malformed header")?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        None => return Err("header without alg"),
        Some(a) if a.eq_ignore_ascii_case("none") => return Err("alg none"),
        Some(a) => parse_alg(a).ok_or("unsupported alg")?,
    };
    // Nothing beyond RFC 7515's basics is understood, so any critical extension is refused.
    if header.get("crit").is_some() {
        return Err("crit header");
    }
    // Keys named by the token itself are never trusted (or fetched).
    for name in ["jku", "x5u", "jwk", "x5c"] {
        if header.get(name).is_some() {
            return Err("token names its own key (jku/x5u/jwk/x5c)");
        }
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("kid is not a string"),
    };
    let claims = decode_object(p).ok_or("malformed payload")?;
    if s.is_empty() {
        return Err("empty signature");
    }
    Ok(Parsed {
        alg,
        kid,
        claims,
        message: &token[..h.len() + 1 + p.len()],
        signature: s,
    })
}

fn decode_object(segment: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.is_object().then_some(value)
}

impl Parsed<'_> {
    /// The unverified `iss`, used only to choose the issuer (and so the keys).
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// Whether one of `keys` that may verify this algorithm (and `kid`) verifies the signature.
    pub fn signature_valid(&self, keys: &KeySet) -> Result<(), &'static str> {
        let mut tried = false;
        for key in keys.candidates(self.kid.as_deref(), self.alg) {
            tried = true;
            if let Ok(true) = jsonwebtoken::crypto::verify(
                self.signature,
                self.message.as_bytes(),
                &key.key,
                self.alg,
            ) {
                return Ok(());
            }
        }
        Err(if tried {
            "bad signature"
        } else {
            "no key for kid/alg"
        })
    }
}

/// Claim checks of one issuer.
pub struct ClaimRules<'a> {
    /// Accepted audiences (empty = not checked).
    pub audiences: &'a [String],
    /// `exp` required.
    pub require_exp: bool,
    /// Claims that must be present.
    pub required_claims: &'a [String],
    /// Claims that must equal these values.
    pub claim_values: &'a [(String, String)],
    /// Clock leeway in seconds.
    pub leeway: i64,
}

/// Checks `exp`, `nbf`, `iat`, `aud`, required claims and claim values at `now` (Unix seconds).
pub fn check_claims(claims: &Value, rules: &ClaimRules<'_>, now: i64) -> Result<(), &'static str> {
    let time = |name: &str| -> Result<Option<i64>, &'static str> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or("time claim is not a number"),
        }
    };
    match time("exp")? {
        Some(exp) if now > exp.saturating_add(rules.leeway) => return Err("token expired"),
        None if rules.require_exp => return Err("exp missing"),
        _ => {}
    }
    if let Some(nbf) = time("nbf")?
        && now.saturating_add(rules.leeway) < nbf
    {
        return Err("token not yet valid (nbf)");
    }
    if let Some(iat) = time("iat")?
        && iat > now.saturating_add(rules.leeway)
    {
        return Err("token issued in the future (iat)");
    }
    if !rules.audiences.is_empty() {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => rules.audiences.contains(a),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| rules.audiences.iter().any(|c| c == a)),
            _ => false,
        };
        if !ok {
            return Err("audience not accepted");
        }
    }
    for name in rules.required_claims {
        if claim_at(claims, name).is_none_or(Value::is_null) {
            return Err("required claim missing");
        }
    }
    for (name, expected) in rules.claim_values {
        let ok = match claim_at(claims, name) {
            Some(Value::String(s)) => s == expected,
            Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                serde_json::from_str::<Value>(expected).is_ok_and(|e| e == *v)
            }
            _ => false,
        };
        if !ok {
            return Err("claim value mismatch");
        }
    }
    Ok(())
}

/// The value at a dot-separated claim path (`realm_access.roles`).
pub fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

/// Roles from a claim: an array of strings or a space-separated string.
pub fn roles_from(claims: &Value, path: &str) -> Vec<String> {
    match claim_at(claims, path) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
