//! Fuzz JWT parsing (`builtin::jwt::verify`): splitting and decoding a compact token, vetting its
//! header, the signature check against an HMAC key, the claim checks and the role extraction
//! never panic. A parsed token has three segments and an object payload; claims that pass the
//! checks have what the rules require; a subject that may be forwarded is a valid header value;
//! and the same claims minted by `jsonwebtoken` with the key parse back equal and verify. The
//! first input byte picks the claim rules, the rest is the token.
#![no_main]

use gatehouse_plugins::builtin::jwt::keys::KeySet;
use gatehouse_plugins::builtin::jwt::verify::{
    self, ClaimRules, check_claims, claim_at, roles_from,
};
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &str = "fuzz-secret";
/// A fixed clock: 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let Ok(token) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(parsed) = verify::parse(token) else {
        return;
    };
    assert_eq!(token.split('.').count(), 3);
    assert!(parsed.claims.is_object());
    assert_eq!(
        parsed.issuer(),
        parsed.claims.get("iss").and_then(Value::as_str)
    );
    let keys = KeySet::from_secret(SECRET);
    let _ = parsed.signature_valid(&keys);

    let audiences = ["api".to_owned(), "admin".to_owned()];
    let required = ["sub".to_owned(), "realm_access.roles".to_owned()];
    let values = [
        ("tenant".to_owned(), "acme".to_owned()),
        ("level".to_owned(), "3".to_owned()),
    ];
    let rules = ClaimRules {
        audiences: if knobs & 1 == 0 { &[] } else { &audiences },
        require_exp: knobs & 2 != 0,
        required_claims: if knobs & 4 == 0 { &[] } else { &required },
        claim_values: if knobs & 8 == 0 { &[] } else { &values },
        leeway: i64::from(knobs >> 4) * 30,
    };
    if check_claims(&parsed.claims, &rules, NOW).is_ok() {
        if rules.require_exp {
            assert!(parsed.claims.get("exp").is_some(), "exp required");
        }
        if !rules.audiences.is_empty() {
            assert!(parsed.claims.get("aud").is_some(), "aud required");
        }
        for name in rules.required_claims {
            assert!(claim_at(&parsed.claims, name).is_some_and(|v| !v.is_null()));
        }
    }
    for path in ["scope", "roles", "realm_access.roles"] {
        for role in roles_from(&parsed.claims, path) {
            if let Some(Value::String(_)) = claim_at(&parsed.claims, path) {
                assert!(!role.is_empty() && !role.contains(char::is_whitespace));
            }
        }
    }
    if let Some(Value::String(sub)) = parsed.claims.get("sub")
        && gatehouse_plugins::header_safe(sub)
    {
        let value = HeaderValue::from_str(sub).expect("a forwardable subject is a header value");
        assert_eq!(value.as_bytes(), sub.as_bytes());
    }

    // The same claims (and kid), signed with the key: accepted, unchanged.
    let mut header = Header::new(Algorithm::HS256);
    header.kid.clone_from(&parsed.kid);
    let minted = jsonwebtoken::encode(
        &header,
        &parsed.claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("claims serialize");
    let again = verify::parse(&minted).expect("a minted token parses");
    assert_eq!(again.alg, Algorithm::HS256);
    assert_eq!(again.kid, parsed.kid);
    assert_eq!(again.claims, parsed.claims);
    again
        .signature_valid(&keys)
        .expect("a minted token verifies");
});
