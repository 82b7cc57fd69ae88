//! `jwt` end to end: tokens minted by PyJWT (`tests/jwt/mint.py`), keys from a real JWKS server
//! (rotation, forged-kid storms, endpoint down), an inline PEM issuer and an HMAC issuer on one
//! route, bearer / cookie / query sources, the attack suite, and identity-header spoofing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::spawn_echo;
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use serde_json::Value;

#[path = "jwt/support.rs"]
mod support;
use support::{HS_ISSUER, ISSUER, JwksServer, OTHER_ISSUER, SECRET, mint, token};

const INVALID: &str = "Bearer error=\"invalid_token\"";
const MISSING: &str = "Bearer realm=\"gatehouse\"";

fn yaml(upstream: SocketAddr, m: &Value, jwks_url: &str, refresh: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar: the PEM keeps its line breaks.
    let other_pem = serde_json::to_string(m["other_pem"].as_str().unwrap()).unwrap();
    format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}identity:
  claim_headers: {{ email: x-user-email }}
upstreams:
  backend:
    targets: ["{upstream}"]
consumers:
  - {{ id: acme, tenant: acme-corp, plan: pro, jwt_subjects: [user-1] }}
routes:
  - name: api
    match: {{ path: {{ prefix: /api }} }}
    upstream: backend
    plugins:
      - jwt:
          issuers:
            - issuer: "{ISSUER}"
              audiences: [api]
              algorithms: [RS256, PS256, ES256, EdDSA]
              keys: {{ jwks_url: "{jwks_url}", {refresh} }}
              required_claims: [sub]
              claim_values: {{ tenant: acme }}
            - issuer: "{OTHER_ISSUER}"
              audiences: [api]
              algorithms: [ES384]
              keys: {{ inline: [{other_pem}] }}
            - issuer: "{HS_ISSUER}"
              audiences: [api]
              algorithms: [HS256]
              keys: {{ secret: "{SECRET}" }}
          sources: [bearer, {{ cookie: session }}, {{ query: access_token }}]
          leeway: 30s
          max_token_bytes: 8KiB
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
"#
    )
}

async fn start(upstream: SocketAddr, m: &Value, jwks_url: &str, refresh: &str) -> TestGateway {
    TestGateway::start(&yaml(upstream, m, jwks_url, refresh)).await
}

fn header(echo: &Value, name: &str) -> Option<String> {
    echo["headers"][name]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn assert_401(r: &Reply, challenge: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}");
    assert_eq!(r.header("www-authenticate"), Some(challenge), "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
}

async fn bearer(gw: &TestGateway, path: &str, token: &str) -> Reply {
    get(
        &gw.url(path),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_carry_the_verified_identity() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let gw = start(echo.addr, &m, &jwks.url(), "timeout: 2s").await;

    for name in [
        "valid_rs256",
        "valid_ps256",
        "valid_es256",
        "valid_eddsa",
        "valid_aud_array",
    ] {
        let r = get(
            &gw.url("/api/orders"),
            &[
                ("authorization", &format!("Bearer {}", token(&m, name))),
                ("x-user-id", "evil"),
                ("x_user_id", "evil"),
                ("x-user-email", "evil@evil.test"),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{name}");
        let seen = r.json();
        assert_eq!(
            seen["headers"]["x-user-id"],
            serde_json::json!(["user-1"]),
            "{name}: {seen}"
        );
        assert!(seen["headers"].get("x_user_id").is_none(), "{seen}");
        assert_eq!(
            header(&seen, "x-user-email").as_deref(),
            Some("u1@idp.test")
        );
        assert_eq!(header(&seen, "x-consumer-id").as_deref(), Some("acme"));
        assert_eq!(header(&seen, "x-tenant-id").as_deref(), Some("acme-corp"));
        assert_eq!(
            header(&seen, "x-user-roles").as_deref(),
            Some("orders.read,orders.write")
        );
        assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    }
    // A subject without a consumer: the verified sub replaces the client's copy.
    let r = get(
        &gw.url("/api"),
        &[
            (
                "authorization",
                &format!("Bearer {}", token(&m, "valid_spoof_sub")),
            ),
            ("x-user-id", "user-1"),
        ],
    )
    .await;
    assert_eq!(header(&r.json(), "x-user-id").as_deref(), Some("real-user"));
    assert!(r.json()["headers"].get("x-consumer-id").is_none());
    assert_eq!(jwks.state.fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_issuers_and_every_source() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let gw = start(echo.addr, &m, &jwks.url(), "timeout: 2s").await;

    // Inline ES384 issuer, from a cookie (the other cookies are forwarded).
    let cookie = format!("theme=dark; session={}", token(&m, "valid_other_issuer"));
    let r = get(&gw.url("/api/c"), &[("cookie", &cookie)]).await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(header(&seen, "x-user-id").as_deref(), Some("user-2"));
    assert_eq!(
        header(&seen, "cookie").as_deref(),
        Some("theme=dark"),
        "{seen}"
    );

    // HMAC issuer, from the query (removed before forwarding).
    let url = gw.url(&format!(
        "/api/q?x=1&access_token={}&y=2",
        token(&m, "valid_hs256")
    ));
    let r = get(&url, &[]).await;
    assert_eq!(r.status, 200);
    let seen = r.json();
    assert_eq!(header(&seen, "x-user-id").as_deref(), Some("user-3"));
    assert_eq!(seen["query"], "x=1&y=2", "{seen}");

    // The other issuer's token signed by a stranger's key, through the cookie.
    let cookie = format!("session={}", token(&m, "other_issuer_wrong_key"));
    assert_401(
        &get(&gw.url("/api"), &[("cookie", &cookie)]).await,
        INVALID,
        "stranger key",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_gets_401_invalid_token() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let gw = start(echo.addr, &m, &jwks.url(), "timeout: 2s").await;
    let attacks = [
        "expired",
        "nbf_future",
        "iat_future",
        "no_exp",
        "wrong_iss",
        "no_iss",
        "wrong_aud",
        "missing_claim",
        "wrong_claim_value",
        "alg_none",
        "alg_none_caps",
        "hs256_confusion",
        "alg_not_pinned",
        "es256_with_rsa_kid",
        "crit",
        "jku",
        "x5u",
        "jwk",
        "bad_signature",
        "oversized",
        "unknown_kid",
    ];
    for name in attacks {
        let r = bearer(&gw, "/api", &token(&m, name)).await;
        assert_401(&r, INVALID, name);
    }
    // The same attacks through the cookie and the query source.
    let cookie = format!("session={}", token(&m, "hs256_confusion"));
    assert_401(
        &get(&gw.url("/api"), &[("cookie", &cookie)]).await,
        INVALID,
        "cookie",
    );
    let url = gw.url(&format!("/api?access_token={}", token(&m, "alg_none")));
    assert_401(&get(&url, &[]).await, INVALID, "query");
    // No token: the plain challenge, whatever identity headers the client sends.
    let r = get(
        &gw.url("/api"),
        &[("x-user-id", "user-1"), ("connection", "x-user-id")],
    )
    .await;
    assert_401(&r, MISSING, "no token");
    // Path tricks do not reach the protected route's upstream without a token.
    for path in [
        "/api/../api/x",
        "/API/x",
        "//api/x",
        "/open/../api/x",
        "/api%2Fx",
    ] {
        let r = get(&gw.url(path), &[]).await;
        assert_ne!(r.status, 200, "{path}");
    }
    // The unauthenticated route strips spoofed identity headers.
    let r = get(
        &gw.url("/open"),
        &[("x-user-id", "user-1"), ("x_user_id", "user-1")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["headers"].get("x-user-id").is_none());
    assert!(r.json()["headers"].get("x_user_id").is_none());
    // Only the configured JWKS was ever fetched (jku/x5u point to a closed port): one initial
    // fetch, one unknown-kid refetch.
    assert!(jwks.state.fetches() <= 2, "{}", jwks.state.fetches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_storms_and_a_failing_endpoint() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let gw = start(
        echo.addr,
        &m,
        &jwks.url(),
        "timeout: 2s, unknown_kid_interval: 30s",
    )
    .await;
    assert_eq!(
        bearer(&gw, "/api", &token(&m, "valid_rs256")).await.status,
        200
    );
    assert_eq!(jwks.state.fetches(), 1);

    // Rotation: the new kid causes one refetch, then verifies.
    jwks.state.set_jwks(&m["jwks_rotated"]);
    assert_eq!(bearer(&gw, "/api", &token(&m, "rotated")).await.status, 200);
    assert_eq!(jwks.state.fetches(), 2);

    // 1,000 forged kids in a burst (100 at a time): no further fetch within the interval.
    let gw = Arc::new(gw);
    let forged: Vec<String> = m["forged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    for chunk in forged.chunks(100) {
        let tasks: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|t| {
                let gw = gw.clone();
                tokio::spawn(async move { bearer(&gw, "/api", &t).await.status.as_u16() })
            })
            .collect();
        for t in tasks {
            assert_eq!(within("forged kid", t).await.unwrap(), 401);
        }
    }
    assert!(
        jwks.state.fetches() <= 2,
        "fetches: {}",
        jwks.state.fetches()
    );

    // The endpoint goes down: the last good keys keep working.
    jwks.state.set_fail(true);
    assert_eq!(
        bearer(&gw, "/api", &token(&m, "valid_es256")).await.status,
        200
    );
    assert_eq!(bearer(&gw, "/api", &token(&m, "rotated")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh_failures_keep_the_last_good_keys() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    jwks.state.set_cache_control("max-age=0");
    let gw = start(
        echo.addr,
        &m,
        &jwks.url(),
        "min_refresh: 100ms, timeout: 1s",
    )
    .await;
    assert_eq!(
        bearer(&gw, "/api", &token(&m, "valid_rs256")).await.status,
        200
    );
    jwks.state.set_fail(true);
    let before = jwks.state.fetches();
    within("refresh attempts", async {
        while jwks.state.fetches() < before + 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        bearer(&gw, "/api", &token(&m, "valid_eddsa")).await.status,
        200
    );
    // Back up with rotated keys: the background refresh picks them up.
    jwks.state.set_jwks(&m["jwks_rotated"]);
    jwks.state.set_fail(false);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(bearer(&gw, "/api", &token(&m, "rotated")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_keys_while_the_endpoint_is_down() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let config = yaml(echo.addr, &m, &jwks.url(), "timeout: 1s");
    let gw = TestGateway::start(&config).await;
    assert_eq!(
        bearer(&gw, "/api", &token(&m, "valid_rs256")).await.status,
        200
    );
    jwks.state.set_fail(true);
    // The same jwt section on a changed configuration: the live key set is reused.
    let changed = config.replace("prefix: /open", "prefix: /public");
    std::fs::write(gw.config_path(), changed).unwrap();
    let reloader = gw.reloader.clone();
    within(
        "reload",
        tokio::task::spawn_blocking(move || reloader.reload("test").map_err(|e| e.to_string())),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        get(&gw.url("/public"), &[]).await.status,
        200,
        "new config active"
    );
    assert_eq!(
        bearer(&gw, "/api", &token(&m, "valid_es256")).await.status,
        200
    );
    assert_eq!(jwks.state.fetches(), 1, "no fetch for the reload");
}

const AMBIGUOUS: &str = "Bearer error=\"invalid_request\"";

/// Fails unless `r` is a 401 that echoes none of `secrets`.
fn assert_401_silent(r: &Reply, challenge: &str, what: &str, secrets: &[&str]) {
    assert_401(r, challenge, what);
    let body = String::from_utf8_lossy(&r.body);
    for secret in secrets {
        assert!(!body.contains(secret), "{what}: token echoed: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_different_tokens_in_one_request_get_401() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let gw = start(echo.addr, &m, &jwks.url(), "timeout: 2s").await;
    // Both validly signed: user-1 (consumer acme) and user-9.
    let a = token(&m, "valid_rs256");
    let b = token(&m, "valid_rs256_other_sub");
    let bad = token(&m, "bad_signature");
    let (bearer_a, bearer_b) = (format!("Bearer {a}"), format!("Bearer {b}"));
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            "/api".into(),
            vec![
                ("authorization", bearer_a.clone()),
                ("authorization", bearer_b.clone()),
            ],
        ),
        (
            format!("/api?access_token={b}"),
            vec![("authorization", bearer_a.clone())],
        ),
        (
            "/api".into(),
            vec![
                ("authorization", bearer_a.clone()),
                ("cookie", format!("session={b}")),
            ],
        ),
        (
            "/api".into(),
            vec![("cookie", format!("session={a}; session={b}"))],
        ),
        (
            "/api".into(),
            vec![
                ("cookie", format!("session={a}")),
                ("cookie", format!("theme=x; session={b}")),
            ],
        ),
        (format!("/api?access_token={a}&access_token={b}"), vec![]),
        // A valid token next to an invalid one is as ambiguous.
        (
            "/api".into(),
            vec![
                ("authorization", bearer_a.clone()),
                ("authorization", format!("Bearer {bad}")),
            ],
        ),
    ];
    for (i, (path, headers)) in cases.iter().enumerate() {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = get(&gw.url(path), &headers).await;
        assert_401_silent(&r, AMBIGUOUS, &format!("case {i}"), &[&a, &b]);
    }
    // Raw: two `Authorization` lines, no client in between.
    let req = format!(
        "GET /api HTTP/1.1\r\nHost: gw.test\r\nAuthorization: {bearer_a}\r\nAuthorization: {bearer_b}\r\nConnection: close\r\n\r\n"
    );
    let raw = within(
        "raw",
        gatehouse_testkit::gateway::raw_exchange(gw.addr, req.as_bytes(), Duration::from_secs(3)),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    assert!(!raw.contains(&a) && !raw.contains(&b), "{raw}");
    assert_eq!(echo.hits(), 0, "an ambiguous request reached the upstream");

    // The same token twice is one credential: accepted, and removed from every place it was in.
    let cookie = format!("theme=dark; session={a}");
    let r = get(
        &gw.url(&format!("/api?x=1&access_token={a}")),
        &[
            ("authorization", &bearer_a),
            ("authorization", &bearer_a),
            ("cookie", &cookie),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = r.json();
    assert_eq!(header(&seen, "x-user-id").as_deref(), Some("user-1"));
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
    assert_eq!(
        header(&seen, "cookie").as_deref(),
        Some("theme=dark"),
        "{seen}"
    );
    assert_eq!(seen["query"], "x=1", "{seen}");
    assert!(!seen.to_string().contains(&a), "token forwarded: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_that_cannot_be_forwarded_get_401() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let jwks = JwksServer::start(&m["jwks"]).await;
    let gw = start(echo.addr, &m, &jwks.url(), "timeout: 2s").await;
    for name in [
        "sub_crlf",
        "sub_lf",
        "sub_nul",
        "sub_tab",
        "sub_del",
        "sub_c1",
        "sub_padded",
        "sub_empty",
        "sub_number",
        "sub_object",
        "sub_array",
        "sub_bool",
        // `identity.claim_headers` maps `email` to `x-user-email`.
        "email_crlf",
        "email_object",
        "email_array",
        // Roles travel comma-separated: a role with a comma would become two.
        "role_with_comma",
        "role_with_crlf",
    ] {
        let t = token(&m, name);
        let r = bearer(&gw, "/api", &t).await;
        assert_401_silent(&r, INVALID, name, &[&t]);
        // Through a raw socket too: the signature is fine, the identity is not.
        let req = format!(
            "GET /api HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
        );
        let raw = within(
            "raw",
            gatehouse_testkit::gateway::raw_exchange(
                gw.addr,
                req.as_bytes(),
                Duration::from_secs(3),
            ),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 401"), "{name}: {raw}");
    }
    assert_eq!(echo.hits(), 0, "a refused identity reached the upstream");

    // Non-ASCII subjects are forwarded as their UTF-8 bytes; an absent mapped claim is not sent.
    let r = bearer(&gw, "/api", &token(&m, "sub_unicode")).await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.json(), "x-user-id").as_deref(), Some("jos\u{e9}"));
    let r = bearer(&gw, "/api", &token(&m, "email_absent")).await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.json(), "x-user-id").as_deref(), Some("user-1"));
    assert!(r.json()["headers"].get("x-user-email").is_none());
}

/// A route that accepts an API key or an HS256 token (`any_of`): credentials of two callers, or
/// a valid one next to an invalid one, are refused — the upstream would receive both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_and_a_token_of_another_caller_are_refused() {
    let Some(m) = mint() else { return };
    let echo = spawn_echo().await;
    let key = "bob-key-5f1e2d";
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  backend:
    targets: ["{}"]
consumers:
  - {{ id: bob, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: both
    match: {{ path: {{ prefix: /both }} }}
    upstream: backend
    plugins:
      - key_auth: {{ header: x-api-key }}
      - jwt:
          issuers:
            - issuer: "{HS_ISSUER}"
              audiences: [api]
              algorithms: [HS256]
              keys: {{ secret: "{SECRET}" }}
"#,
        echo.addr,
        gatehouse_testkit::keys::sha256_hex_via_cli(key)
    );
    let gw = TestGateway::start(&yaml).await;
    let token = format!("Bearer {}", token(&m, "valid_hs256"));
    let url = gw.url("/both/x");
    // Each alone is fine.
    let r = get(&url, &[("x-api-key", key)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.json(), "x-consumer-id").as_deref(), Some("bob"));
    let r = get(&url, &[("authorization", &token)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.json(), "x-user-id").as_deref(), Some("user-3"));
    let hits = echo.hits();
    // Bob's key with user-3's token, and bob's key with a forged token: 401, nothing forwarded.
    for authorization in [token.as_str(), "Bearer not.a.token"] {
        let r = get(
            &url,
            &[("x-api-key", key), ("authorization", authorization)],
        )
        .await;
        assert_eq!(r.status, 401, "{authorization}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("more than one credential")
        );
        assert!(!String::from_utf8_lossy(&r.body).contains(key));
    }
    assert_eq!(echo.hits(), hits);
}
