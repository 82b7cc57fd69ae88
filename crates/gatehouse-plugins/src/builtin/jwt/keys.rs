//! Verification keys: inline PEM / JWK, JWKS documents, HMAC secrets, and which algorithms each
//! key may verify (the key type pins the algorithm family: no algorithm confusion).

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// One verification key.
#[derive(Clone)]
pub struct VerifyKey {
    /// `kid`, when the key has one.
    pub kid: Option<String>,
    /// The algorithm family the key belongs to (from its type, never from a token).
    pub family: AlgorithmFamily,
    /// The curve of an EC key, when known (P-256 → ES256, P-384 → ES384).
    pub curve: Option<EllipticCurve>,
    /// The JWK's own `alg`, when it names one: then only that algorithm.
    pub alg: Option<Algorithm>,
    /// The key material.
    pub key: DecodingKey,
}

impl VerifyKey {
    /// Whether this key may verify a token naming `kid`.
    pub fn serves(&self, kid: Option<&str>) -> bool {
        match (kid, &self.kid) {
            (Some(wanted), Some(own)) => wanted == own,
            _ => true,
        }
    }

    /// Whether this key may verify a signature made with `alg`.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        if !self.family.algorithms().contains(&alg) {
            return false;
        }
        if self.alg.is_some_and(|a| a != alg) {
            return false;
        }
        match (&self.curve, alg) {
            (Some(EllipticCurve::P256), Algorithm::ES256) => true,
            (Some(EllipticCurve::P384), Algorithm::ES384) => true,
            (Some(_), _) => false,
            (None, _) => true,
        }
    }
}

/// A set of keys (one issuer's).
#[derive(Clone, Default)]
pub struct KeySet {
    /// The keys, in document order.
    pub keys: Vec<VerifyKey>,
}

impl KeySet {
    /// Keys that may verify `alg` for a token naming `kid`: a token without `kid` may use any key,
    /// a key without `kid` (typical of inline keys) serves any token.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a VerifyKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.accepts(alg) && k.serves(kid))
    }

    /// Whether some key may serve a token naming `kid` (else a refetch may help).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.serves(Some(kid)))
    }

    /// Parses a JWKS document (`{"keys": [...]}`). Keys that are not signature keys, are
    /// symmetric (`oct`) or do not parse are skipped; an error only when the document is not a
    /// JWKS at all.
    pub fn from_jwks(body: &[u8]) -> Result<KeySet, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let keys = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| "JWKS has no `keys` array".to_owned())?;
        let mut set = KeySet::default();
        for value in keys {
            match serde_json::from_value::<Jwk>(value.clone())
                .map_err(|e| e.to_string())
                .and_then(|jwk| from_jwk(&jwk))
            {
                Ok(Some(key)) => set.keys.push(key),
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "JWKS key skipped"),
            }
        }
        Ok(set)
    }

    /// Parses inline keys: PEM public keys (RSA, EC or Ed25519) or JWK JSON objects.
    pub fn from_inline(items: &[String]) -> Result<KeySet, String> {
        let mut set = KeySet::default();
        for (i, item) in items.iter().enumerate() {
            let text = item.trim();
            let key = if text.starts_with('{') {
                let jwk: Jwk = serde_json::from_str(text)
                    .map_err(|e| format!("inline key {i}: not a JWK: {e}"))?;
                from_jwk(&jwk)
                    .map_err(|e| format!("inline key {i}: {e}"))?
                    .ok_or_else(|| format!("inline key {i}: not a public signature key"))?
            } else {
                from_pem(text).map_err(|e| format!("inline key {i}: {e}"))?
            };
            set.keys.push(key);
        }
        Ok(set)
    }

    /// An HMAC secret (HS256/384/512).
    pub fn from_secret(secret: &str) -> KeySet {
        KeySet {
            keys: vec![VerifyKey {
                kid: None,
                family: AlgorithmFamily::Hmac,
                curve: None,
                alg: None,
                key: DecodingKey::from_secret(secret.as_bytes()),
            }],
        }
    }
}

fn from_pem(text: &str) -> Result<VerifyKey, String> {
    let bytes = text.as_bytes();
    let (family, key) = if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
        (AlgorithmFamily::Rsa, k)
    } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
        (AlgorithmFamily::Ec, k)
    } else if let Ok(k) = DecodingKey::from_ed_pem(bytes) {
        (AlgorithmFamily::Ed, k)
    } else {
        return Err("not a PEM RSA, EC or Ed25519 public key".to_owned());
    };
    Ok(VerifyKey {
        kid: None,
        family,
        curve: None,
        alg: None,
        key,
    })
}

/// A signature key from a JWK; `Ok(None)` for keys that are skipped (encryption, `oct`).
fn from_jwk(jwk: &Jwk) -> Result<Option<VerifyKey>, String> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Ok(None);
    }
    let alg = match &jwk.common.key_algorithm {
        None => None,
        Some(a) => match signature_alg(a) {
            Some(a) => Some(a),
            None => return Ok(None),
        },
    };
    let (family, curve) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (AlgorithmFamily::Rsa, None),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 | EllipticCurve::P384 => {
                (AlgorithmFamily::Ec, Some(p.curve.clone()))
            }
            _ => return Err("unsupported EC curve".to_owned()),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => (AlgorithmFamily::Ed, None),
            _ => return Err("unsupported OKP curve".to_owned()),
        },
        // Symmetric keys never come from a key document.
        AlgorithmParameters::OctetKey(_) => return Ok(None),
        _ => return Ok(None),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        family,
        curve,
        alg,
        key,
    }))
}

fn signature_alg(alg: &KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Parses an algorithm name as written in config or a token header (`none` and unknown → `None`).
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}
