//! `oauth2_introspection` end to end against a real introspection endpoint written in the test
//! (`introspection/idp.rs`): identity headers from `sub`/`scope`, consumer mapping, 401 with
//! `WWW-Authenticate` for inactive and expired tokens, positive and negative caching, coalescing of
//! 100 concurrent first requests into one introspection, and the endpoint slow, failing, answering
//! garbage or down (`on_error: deny` → 503, `on_error: anonymous` → the route's anonymous consumer).

#[path = "introspection/idp.rs"]
mod idp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use gatehouse_testkit::{require_server, spawn_echo};
use serde_json::Value;

use idp::Mode;

/// A gateway with consumers `acme` (subject `user-1`) and `guest`, route `/api` guarded by
/// `oauth2_introspection` (extra settings `extra`, e.g. `, timeout: 300ms`), and `/open` with anonymous fallback to `guest`.
async fn start(upstream: SocketAddr, endpoint: &str, extra: &str) -> TestGateway {
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}upstreams:
  backend:
    targets: ["{upstream}"]
consumers:
  - {{ id: acme, tenant: acme-corp, roles: [member], jwt_subjects: [user-1] }}
  - {{ id: guest, roles: [public] }}
routes:
  - name: api
    match: {{ path: {{ prefix: /api }} }}
    upstream: backend
    plugins:
      - oauth2_introspection: {{ endpoint: "{endpoint}", client_id: gw, client_secret: "s3cr:t"{extra} }}
  - name: open
    match: {{ path: {{ prefix: /open }} }}
    upstream: backend
    auth: {{ anonymous: guest }}
    plugins:
      - oauth2_introspection: {{ endpoint: "{endpoint}", client_id: gw, client_secret: "s3cr:t", timeout: 300ms, on_error: anonymous }}
"#
    );
    TestGateway::start(&yaml).await
}

fn header(echo: &Value, name: &str) -> Option<String> {
    echo["headers"][name]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

async fn bearer(gw: &TestGateway, path: &str, token: &str) -> Reply {
    get(
        &gw.url(path),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

fn assert_status(r: &Reply, status: u16, what: &str) {
    assert_eq!(
        r.status,
        status,
        "{what}: {}",
        String::from_utf8_lossy(&r.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_token_reaches_upstream_with_identity_and_is_cached() {
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 300ms").await;

    let r = bearer(&gw, "/api/orders", "active-1").await;
    assert_status(&r, 200, "active token");
    let seen = r.json();
    assert_eq!(header(&seen, "x-user-id").as_deref(), Some("user-1"));
    assert_eq!(
        header(&seen, "x-user-roles").as_deref(),
        Some("member,orders.read,orders.write")
    );
    assert_eq!(header(&seen, "x-consumer-id").as_deref(), Some("acme"));
    assert_eq!(header(&seen, "x-tenant-id").as_deref(), Some("acme-corp"));
    assert_eq!(header(&seen, "authorization"), None, "credential stripped");

    for _ in 0..9 {
        assert_status(&bearer(&gw, "/api/orders", "active-1").await, 200, "cached");
    }
    assert_eq!(idp.count("active-1"), 1, "10 requests, 1 introspection");
    // The token is form-encoded in the body.
    assert_status(&bearer(&gw, "/api/x", "a+b/c=").await, 200, "encoded token");
    assert_eq!(
        idp.count_body("token=a%2Bb%2Fc%3D&token_type_hint=access_token"),
        1
    );
    assert!(
        idp.bad().is_empty(),
        "refused by the endpoint: {:?}",
        idp.bad()
    );
    // A spoofed identity header is replaced by the verified one.
    let r = get(
        &gw.url("/api/orders"),
        &[("authorization", "Bearer active-1"), ("x-user-id", "admin")],
    )
    .await;
    assert_eq!(header(&r.json(), "x-user-id").as_deref(), Some("user-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sees_identity_and_challenges() {
    if !require_server("curl") {
        return;
    }
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 300ms").await;
    let url = gw.url("/api/curl");
    let out = within(
        "curl",
        tokio::task::spawn_blocking(move || {
            let run = |auth: &str| {
                let out = std::process::Command::new("curl")
                    .args(["-sS", "-i", "--max-time", "10", "-H", auth, &url])
                    .output()
                    .expect("run curl");
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            (
                run("Authorization: Bearer active-curl"),
                run("Authorization: Bearer revoked"),
            )
        }),
    )
    .await
    .unwrap();
    assert!(out.0.starts_with("HTTP/1.1 200"), "{}", out.0);
    assert!(out.0.contains("\"x-user-id\":[\"user-1\"]"), "{}", out.0);
    assert!(out.1.starts_with("HTTP/1.1 401"), "{}", out.1);
    assert!(
        out.1
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer error=\"invalid_token\""),
        "{}",
        out.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_and_expired_tokens_get_401_and_are_negatively_cached() {
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 300ms, negative_ttl: 30s").await;
    for token in ["revoked", "expired"] {
        for _ in 0..3 {
            let r = bearer(&gw, "/api/x", token).await;
            assert_status(&r, 401, token);
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer error=\"invalid_token\"")
            );
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert!(!String::from_utf8_lossy(&r.body).contains(token));
        }
        assert_eq!(idp.count(token), 1, "{token}: negative result cached");
    }
    // No token: 401 with the realm challenge, no introspection.
    let r = get(&gw.url("/api/x"), &[]).await;
    assert_status(&r, 401, "no token");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"gatehouse\"")
    );
    assert_eq!(echo.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_a_new_token_share_one_introspection() {
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 5s").await;
    let url = gw.url("/api/burst");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            get(&url, &[("authorization", "Bearer slow-burst")])
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(within("burst request", t).await.unwrap(), 200);
    }
    assert_eq!(
        idp.count("slow-burst"),
        1,
        "coalesced into one introspection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_slow_failing_or_garbage_is_denied_with_503() {
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 300ms").await;

    idp.set_mode(Mode::Slow);
    let started = Instant::now();
    let r = bearer(&gw, "/api/x", "active-slow").await;
    assert_status(&r, 503, "slow endpoint");
    assert!(
        started.elapsed() < Duration::from_millis(300) + Duration::from_secs(3),
        "503 within the timeout (+ margin): {:?}",
        started.elapsed()
    );
    assert_eq!(r.header("www-authenticate"), None);

    for (mode, token) in [
        (Mode::Failing, "active-fail"),
        (Mode::Garbage, "active-garbage"),
    ] {
        idp.set_mode(mode);
        assert_status(
            &bearer(&gw, "/api/x", token).await,
            503,
            &format!("{mode:?}"),
        );
        // Failures are not cached: the next request asks again.
        assert_status(
            &bearer(&gw, "/api/x", token).await,
            503,
            &format!("{mode:?}"),
        );
        assert_eq!(idp.count(token), 2, "{mode:?}: failures are not cached");
    }
    // Recovery: the same token works once the endpoint does.
    idp.set_mode(Mode::Normal);
    assert_status(
        &bearer(&gw, "/api/x", "active-fail").await,
        200,
        "recovered",
    );
    assert_eq!(echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_down_denies_or_falls_back_to_anonymous() {
    let echo = spawn_echo().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gw = start(
        echo.addr,
        &format!("http://127.0.0.1:{port}/introspect"),
        "",
    )
    .await;

    assert_status(
        &bearer(&gw, "/api/x", "active-down").await,
        503,
        "down, deny",
    );

    let r = bearer(&gw, "/open/x", "active-down").await;
    assert_status(&r, 200, "down, anonymous");
    let seen = r.json();
    assert_eq!(header(&seen, "x-consumer-id").as_deref(), Some("guest"));
    assert_eq!(header(&seen, "x-user-roles").as_deref(), Some("public"));
    // The anonymous fallback is for endpoint failures only: no credentials still means anonymous,
    // and an inactive token is never turned into anonymous access (tested above with the IdP up).
    assert_status(
        &get(&gw.url("/open/x"), &[]).await,
        200,
        "no token, anonymous",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_token_is_not_anonymous_on_fallback_routes() {
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 300ms").await;
    assert_status(&bearer(&gw, "/open/x", "revoked").await, 401, "inactive");
    let r = bearer(&gw, "/open/x", "active-open").await;
    assert_status(&r, 200, "active on the open route");
    assert_eq!(header(&r.json(), "x-user-id").as_deref(), Some("user-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tokens_or_an_unforwardable_identity_get_401() {
    let (echo, idp) = (spawn_echo().await, idp::spawn().await);
    let gw = start(echo.addr, &idp.url(), ", timeout: 300ms").await;
    // Two different bearer tokens: refused before the endpoint is asked about either.
    for path in ["/api/x", "/open/x"] {
        let r = get(
            &gw.url(path),
            &[
                ("authorization", "Bearer active-a"),
                ("authorization", "Bearer active-b"),
            ],
        )
        .await;
        assert_status(&r, 401, "two tokens");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"invalid_request\"")
        );
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("active-a") && !body.contains("active-b"),
            "{body}"
        );
    }
    assert_eq!(idp.count("active-a") + idp.count("active-b"), 0);
    // The same token twice is one credential.
    let r = get(
        &gw.url("/api/x"),
        &[
            ("authorization", "Bearer active-twice"),
            ("authorization", "Bearer active-twice"),
        ],
    )
    .await;
    assert_status(&r, 200, "same token twice");
    assert!(r.json()["headers"].get("authorization").is_none());

    // Active tokens whose identity cannot become a header value.
    for token in ["sub-crlf", "sub-nul", "client-crlf", "scope-comma"] {
        let r = bearer(&gw, "/api/x", token).await;
        assert_status(&r, 401, token);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(
        echo.hits(),
        1,
        "only the accepted request reached the upstream"
    );
}
