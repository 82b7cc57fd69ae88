use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{JwksSource, JwtConfig, JwtIssuer, JwtKeys, TokenSource};
use serde_json::Value;

use super::*;

mod support;
use support::{HS_ISSUER, ISSUER, JwksServer, OTHER_ISSUER, SECRET, minted, token};

fn source(url: String) -> JwksSource {
    JwksSource {
        url,
        min_refresh: Duration::from_secs(60),
        max_refresh: Duration::from_secs(3600),
        unknown_kid_interval: Duration::from_secs(30),
        timeout: Duration::from_secs(2),
    }
}

fn issuer(name: &str, algorithms: &[&str], keys: JwtKeys) -> JwtIssuer {
    JwtIssuer {
        issuer: name.to_owned(),
        audiences: vec!["api".to_owned()],
        algorithms: algorithms.iter().map(|a| (*a).to_owned()).collect(),
        keys,
        require_exp: true,
        required_claims: vec!["sub".to_owned()],
        claim_values: vec![("tenant".to_owned(), "acme".to_owned())],
    }
}

fn config(issuers: Vec<JwtIssuer>) -> JwtConfig {
    JwtConfig {
        issuers,
        sources: vec![TokenSource::Bearer],
        leeway: Duration::from_secs(30),
        max_token_bytes: 8192,
        keep_credential: false,
        roles_claim: None,
    }
}

/// The main issuer on a JWKS URL, the other issuer with an inline ES384 PEM, the HS issuer.
fn three_issuers(m: &Value, jwks: JwtKeys) -> JwtConfig {
    let other = m["other_pem"].as_str().unwrap().to_owned();
    config(vec![
        issuer(ISSUER, &["RS256", "PS256", "ES256", "EdDSA"], jwks),
        issuer(OTHER_ISSUER, &["ES384"], JwtKeys::Inline(vec![other])),
        issuer(HS_ISSUER, &["HS256"], JwtKeys::Secret(SECRET.to_owned())),
    ])
}

fn jwt(config: &JwtConfig) -> Jwt {
    Jwt::new(config, Arc::default()).expect("builds")
}

async fn check(j: &Jwt, m: &Value, name: &str) -> std::result::Result<Identity, &'static str> {
    tokio::time::timeout(
        Duration::from_secs(10),
        j.verify(&token(m, name), unix_now()),
    )
    .await
    .expect("verify bounded")
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_tokens_of_every_algorithm_and_issuer() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    let j = jwt(&three_issuers(
        m,
        JwtKeys::Jwks(source(server.url("/jwks.json"))),
    ));
    for name in [
        "valid_rs256",
        "valid_ps256",
        "valid_es256",
        "valid_eddsa",
        "valid_aud_array",
        "valid_no_kid",
        "expired_within_leeway",
    ] {
        let id = check(&j, m, name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(id.subject.as_deref(), Some("user-1"), "{name}");
        assert_eq!(id.method, "jwt");
        assert_eq!(id.roles, ["orders.read", "orders.write"]);
        assert_eq!(id.claims.as_ref().unwrap()["email"], "u1@idp.test");
    }
    assert_eq!(
        check(&j, m, "valid_other_issuer")
            .await
            .unwrap()
            .subject
            .as_deref(),
        Some("user-2")
    );
    assert_eq!(
        check(&j, m, "valid_hs256")
            .await
            .unwrap()
            .subject
            .as_deref(),
        Some("user-3")
    );
    assert_eq!(
        server.state.fetches(),
        1,
        "one fetch serves every known kid"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_attack_is_refused() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    let j = jwt(&three_issuers(
        m,
        JwtKeys::Jwks(source(server.url("/jwks.json"))),
    ));
    let cases = [
        ("expired", "token expired"),
        ("nbf_future", "token not yet valid (nbf)"),
        ("iat_future", "token issued in the future (iat)"),
        ("no_exp", "exp missing"),
        ("wrong_iss", "issuer not trusted"),
        ("no_iss", "iss missing"),
        ("wrong_aud", "audience not accepted"),
        ("missing_claim", "required claim missing"),
        ("wrong_claim_value", "claim value mismatch"),
        ("alg_none", "alg none"),
        ("alg_none_caps", "alg none"),
        ("hs256_confusion", "algorithm not allowed for this issuer"),
        ("alg_not_pinned", "algorithm not allowed for this issuer"),
        ("es256_with_rsa_kid", "no key for kid/alg"),
        ("other_issuer_wrong_key", "bad signature"),
        ("crit", "crit header"),
        ("jku", "token names its own key (jku/x5u/jwk/x5c)"),
        ("x5u", "token names its own key (jku/x5u/jwk/x5c)"),
        ("jwk", "token names its own key (jku/x5u/jwk/x5c)"),
        ("bad_signature", "bad signature"),
        ("oversized", "token too large"),
        ("unknown_kid", "no key for kid/alg"),
        // Validly signed, but `sub` cannot be forwarded as a header value.
        ("sub_crlf", "sub cannot be forwarded"),
        ("sub_lf", "sub cannot be forwarded"),
        ("sub_nul", "sub cannot be forwarded"),
        ("sub_tab", "sub cannot be forwarded"),
        ("sub_del", "sub cannot be forwarded"),
        ("sub_c1", "sub cannot be forwarded"),
        ("sub_padded", "sub cannot be forwarded"),
        ("sub_empty", "sub cannot be forwarded"),
        ("sub_number", "sub is not a string"),
        ("sub_object", "sub is not a string"),
        ("sub_array", "sub is not a string"),
        ("sub_bool", "sub is not a string"),
    ];
    for (name, reason) in cases {
        assert_eq!(check(&j, m, name).await.err(), Some(reason), "{name}");
    }
    // Not a JWT at all.
    for junk in [
        "",
        "a.b",
        "a.b.c.d.e",
        "!!!.???.###",
        "e30.e30.",
        "e30.e30.c2ln",
    ] {
        assert!(j.verify(junk, unix_now()).await.is_err(), "{junk:?}");
    }
    // Nothing named by the attacks was ever fetched: only the configured JWKS.
    assert!(server.state.fetches() <= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn confusion_is_refused_even_when_hs256_is_pinned_next_to_rsa_keys() {
    let Some(m) = minted() else { return };
    // HS256 with a non-secret key set is a configuration error; a secret allows only HS*.
    let pem = m["rsa_pem"].as_str().unwrap().to_owned();
    let bad = config(vec![issuer(
        ISSUER,
        &["RS256", "HS256"],
        JwtKeys::Inline(vec![pem.clone()]),
    )]);
    assert!(Jwt::new(&bad, Arc::default()).is_err());
    let bad = config(vec![issuer(
        ISSUER,
        &["RS256"],
        JwtKeys::Secret(pem.clone()),
    )]);
    assert!(Jwt::new(&bad, Arc::default()).is_err());
    for alg in ["none", "ES512", "rs256"] {
        let bad = config(vec![issuer(
            ISSUER,
            &[alg],
            JwtKeys::Inline(vec![pem.clone()]),
        )]);
        assert!(Jwt::new(&bad, Arc::default()).is_err(), "{alg}");
    }
    assert!(Jwt::new(&config(vec![]), Arc::default()).is_err());
    let bad = config(vec![issuer(
        ISSUER,
        &["RS256"],
        JwtKeys::Inline(vec!["not a key".into()]),
    )]);
    assert!(Jwt::new(&bad, Arc::default()).is_err());
    // Inline PEM and JWK keys verify; the RSA key never serves as an HMAC secret.
    let jwk = m["ec_jwk"].as_str().unwrap().to_owned();
    let ok = config(vec![issuer(
        ISSUER,
        &["RS256", "ES256"],
        JwtKeys::Inline(vec![pem, jwk]),
    )]);
    let j = jwt(&ok);
    assert!(check(&j, m, "valid_rs256").await.is_ok());
    assert!(check(&j, m, "valid_es256").await.is_ok());
    assert!(check(&j, m, "hs256_confusion").await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_refetches_once_and_forged_kids_cause_no_storm() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    let j = Arc::new(jwt(&three_issuers(
        m,
        JwtKeys::Jwks(source(server.url("/jwks.json"))),
    )));
    assert!(check(&j, m, "valid_rs256").await.is_ok());
    assert_eq!(server.state.fetches(), 1);
    // The issuer rotates: a token with the new kid causes one refetch, then verifies.
    server.state.set_jwks(&m["jwks_rotated"]);
    assert!(check(&j, m, "rotated").await.is_ok());
    assert_eq!(server.state.fetches(), 2);
    // 1,000 forged kids at once, right after: no fetch at all within the interval.
    let forged: Vec<String> = m["forged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    let tasks: Vec<_> = forged
        .into_iter()
        .map(|t| {
            let j = j.clone();
            tokio::spawn(async move { j.verify(&t, unix_now()).await.is_err() })
        })
        .collect();
    for t in tasks {
        assert!(
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .unwrap()
                .unwrap()
        );
    }
    assert_eq!(
        server.state.fetches(),
        2,
        "forged kids within the interval fetch nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_forged_kids_share_one_fetch() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    let j = Arc::new(jwt(&three_issuers(
        m,
        JwtKeys::Jwks(source(server.url("/jwks.json"))),
    )));
    assert!(check(&j, m, "valid_rs256").await.is_ok());
    server.state.set_delay(Duration::from_millis(200));
    let forged = m["forged"].as_array().unwrap().clone();
    let tasks: Vec<_> = forged
        .into_iter()
        .map(|t| {
            let j = j.clone();
            tokio::spawn(async move { j.verify(t.as_str().unwrap(), unix_now()).await.is_err() })
        })
        .collect();
    for t in tasks {
        assert!(
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .unwrap()
                .unwrap()
        );
    }
    assert_eq!(server.state.fetches(), 2, "1,000 forged kids: one refetch");
    assert_eq!(j.jwks_fetch_count(0), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn last_good_keys_survive_a_failing_or_slow_endpoint() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    let mut src = source(server.url("/jwks.json"));
    src.min_refresh = Duration::from_millis(100);
    src.unknown_kid_interval = Duration::ZERO;
    src.timeout = Duration::from_millis(300);
    *server.state.cache_control.lock().unwrap() = Some("max-age=0".to_owned());
    let j = jwt(&three_issuers(m, JwtKeys::Jwks(src)));
    assert!(check(&j, m, "valid_rs256").await.is_ok());
    server.state.set_fail(true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        server.state.fetches() >= 2,
        "background refreshes were attempted"
    );
    assert!(
        check(&j, m, "valid_rs256").await.is_ok(),
        "down: last good keys"
    );
    assert!(check(&j, m, "unknown_kid").await.is_err());
    server.state.set_fail(false);
    server.state.set_delay(Duration::from_secs(5));
    assert!(
        check(&j, m, "valid_es256").await.is_ok(),
        "slow: last good keys"
    );
    assert!(
        check(&j, m, "unknown_kid").await.is_err(),
        "slow refetch bounded by timeout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_endpoint_before_first_fetch_is_refused_within_the_timeout() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    server.state.set_delay(Duration::from_secs(5));
    let mut src = source(server.url("/jwks.json"));
    src.timeout = Duration::from_millis(200);
    let j = jwt(&three_issuers(m, JwtKeys::Jwks(src)));
    assert_eq!(
        check(&j, m, "valid_rs256").await.err(),
        Some("issuer keys unavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_discovery_checks_the_issuer() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    let disc = server.url("/.well-known/openid-configuration");
    let j = jwt(&three_issuers(m, JwtKeys::Discovery(source(disc.clone()))));
    assert!(check(&j, m, "valid_eddsa").await.is_ok());
    assert_eq!(
        server
            .state
            .discoveries
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    *server.state.discovery_issuer.lock().unwrap() = "https://evil.test/".to_owned();
    let mut src = source(disc);
    src.timeout = Duration::from_millis(500);
    let j = jwt(&three_issuers(m, JwtKeys::Discovery(src)));
    assert_eq!(
        check(&j, m, "valid_eddsa").await.err(),
        Some("issuer keys unavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_first_fetch_refuses_without_waiting_then_recovers() {
    let Some(m) = minted() else { return };
    let server = JwksServer::start(&m["jwks"]).await;
    server.state.set_fail(true);
    let mut src = source(server.url("/jwks.json"));
    src.timeout = Duration::from_secs(60); // longer than `check`'s bound: waiting would fail it
    let j = jwt(&three_issuers(m, JwtKeys::Jwks(src)));
    assert_eq!(
        check(&j, m, "valid_rs256").await.err(),
        Some("issuer keys unavailable")
    );
    server.state.set_fail(false);
    tokio::time::timeout(Duration::from_secs(10), async {
        while check(&j, m, "valid_rs256").await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the background retry succeeds");
}

mod sources;
