//! JWT verification with a cached key (RS256, ES256, EdDSA): header vetting, issuer selection,
//! signature and claim checks. Tokens and keys are minted by PyJWT (`crates/gatehouse/tests/jwt/
//! mint.py`); without python3 + PyJWT the group is skipped.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::Criterion;
use gatehouse_config::model::{JwtConfig, JwtIssuer, JwtKeys, TokenSource};
use gatehouse_plugins::builtin::jwt::Jwt;
use serde_json::Value;

use super::ready;

const ISSUER: &str = "https://idp.test/";

fn mint() -> Option<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../gatehouse/tests/jwt/mint.py"
    );
    let out = std::process::Command::new("python3")
        .args([
            script,
            ISSUER,
            "https://other.test/",
            "https://hs.test/",
            "bench-secret",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())?
}

fn verifier(algorithm: &str, pem: &str) -> Jwt {
    let config = JwtConfig {
        issuers: vec![JwtIssuer {
            issuer: ISSUER.to_owned(),
            audiences: vec!["api".to_owned()],
            algorithms: vec![algorithm.to_owned()],
            keys: JwtKeys::Inline(vec![pem.to_owned()]),
            require_exp: true,
            required_claims: vec!["sub".to_owned()],
            claim_values: vec![("tenant".to_owned(), "acme".to_owned())],
        }],
        sources: vec![TokenSource::Bearer],
        leeway: Duration::from_secs(30),
        max_token_bytes: 8192,
        keep_credential: false,
        roles_claim: None,
    };
    Jwt::new(&config, Arc::default()).expect("jwt")
}

/// `jwt/verify/{RS256,ES256,EdDSA}`.
pub fn bench_jwt(c: &mut Criterion) {
    let Some(m) = mint() else {
        eprintln!("SKIPPED: jwt benches (python3 with PyJWT + cryptography not available)");
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut group = c.benchmark_group("jwt/verify");
    for (alg, pem, token) in [
        ("RS256", "rsa_pem", "valid_rs256"),
        ("ES256", "ec_pem", "valid_es256"),
        ("EdDSA", "ed_pem", "valid_eddsa"),
    ] {
        let jwt = verifier(alg, m[pem].as_str().expect("pem"));
        let token = m["tokens"][token].as_str().expect("token").to_owned();
        assert!(
            ready(jwt.verify(&token, now)).is_ok(),
            "{alg} token verifies"
        );
        group.bench_function(alg, |b| {
            b.iter(|| ready(jwt.verify(black_box(&token), now)).expect("valid"))
        });
    }
    group.finish();
}
