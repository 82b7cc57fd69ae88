//! Attacks on authentication, end to end: spoofed identity headers (mixed case, `_` spellings,
//! duplicates, `Connection:`-listed), path tricks around a key-protected `/admin` next to a public
//! `/public`, credential hygiene (keys never forwarded, refused keys never echoed), and two
//! different keys in one request (refused: which identity would the upstream see?).
//!
//! Requests are written raw (no client normalizes them) and, where curl is available, sent with
//! curl `--path-as-is`. Key hashes come from `sha256sum` (coreutils), not from the gateway's code.
//!
//! Routing is case-sensitive: `/ADMIN` does not match `prefix: /admin` (404 here), so it can
//! never reach the admin upstream, with or without a key.

use std::net::SocketAddr;
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, raw_exchange, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::raw::{body_of, curl_as_is, status_of};
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use gatehouse_testkit::{Upstream, require_server, spawn_echo};
use serde_json::Value;

const RAW_WAIT: Duration = Duration::from_secs(3);
const ADMIN_KEY: &str = "admin-key-7f3a9c";
const USER_KEY: &str = "user-key-51bd02";
const REFUSED_KEY: &str = "refused-secret-key-0d9e44";

/// Three upstreams: `/admin` (key_auth + rbac `admin.access`), `/public` (no auth), `/me`
/// (key_auth, also from `?api_key=`) and `/anon` (key_auth, anonymous consumer `guest`) share the "public" echo.
struct Setup {
    gw: TestGateway,
    admin: Upstream,
    public: Upstream,
}

async fn start(identity: &str) -> Setup {
    let admin = spawn_echo().await;
    let public = spawn_echo().await;
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}{identity}upstreams:
  admin:
    targets: ["{}"]
  public:
    targets: ["{}"]
consumers:
  - {{ id: root, tenant: ops, plan: internal, roles: [admin.access], api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: alice, tenant: acme, plan: basic, roles: [orders.read], api_keys: [{{ sha256: "{}" }}] }}
  - {{ id: guest, plan: free }}
routes:
  - name: admin
    match: {{ path: {{ prefix: /admin }} }}
    upstream: admin
    plugins:
      - key_auth: {{ header: x-api-key, authorization_scheme: true }}
      - rbac: {{ any_of: [admin.access] }}
  - name: public
    match: {{ path: {{ prefix: /public }} }}
    upstream: public
  - name: me
    match: {{ path: {{ prefix: /me }} }}
    upstream: public
    plugins:
      - key_auth: {{ header: x-api-key, authorization_scheme: true, query_param: api_key }}
  - name: anon
    match: {{ path: {{ prefix: /anon }} }}
    upstream: public
    auth: {{ anonymous: guest }}
    plugins:
      - key_auth: {{ header: x-api-key, authorization_scheme: true }}
"#,
        admin.addr,
        public.addr,
        sha256_hex_via_cli(ADMIN_KEY),
        sha256_hex_via_cli(USER_KEY)
    );
    Setup {
        gw: TestGateway::start(&yaml).await,
        admin,
        public,
    }
}

/// A raw `GET target` with the given header lines (each without CRLF), `Connection: close` last
/// unless a `Connection` line is among them.
async fn raw_get(addr: SocketAddr, target: &str, lines: &[&str]) -> String {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: gw.test\r\n");
    for line in lines {
        req.push_str(line);
        req.push_str("\r\n");
    }
    if !lines
        .iter()
        .any(|l| l.to_ascii_lowercase().starts_with("connection:"))
    {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    within("raw", raw_exchange(addr, req.as_bytes(), RAW_WAIT)).await
}

/// Every value the echo saw for `name` (lower-case).
fn values(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Spoofed identity headers: mixed case, `_` spellings, duplicates. Every value contains "evil".
const SPOOFS: &[&str] = &[
    "X-User-ID: evil-user",
    "x-user-id: evil-user-2",
    "X-CONSUMER-ID: evil-consumer",
    "x-Consumer-Id: evil-consumer-2",
    "X-Tenant-ID: evil-tenant",
    "X-User-Roles: admin.access,evil",
    "x-user-roles: evil-superuser",
    "X-Consumer-Plan: evil-enterprise",
    "X-Client-Cert-Identity: CN=evil",
    "x_user_id: evil_user",
    "X_User_Roles: admin.access,evil_roles",
    "x_consumer_id: evil_consumer",
    "X_Tenant_ID: evil_tenant",
    "x_consumer_plan: evil_plan",
    "X_Client_Cert_Identity: evil_cert",
];

/// Spoofs of the custom user id header of `identity: { user_id_header: x-auth-user }`.
const AUTH_USER_SPOOFS: [&str; 3] = [
    "X-Auth-User: evil-auth-user",
    "x-auth-user: evil-auth-user-2",
    "X_Auth_User: evil_auth_user",
];

const IDENTITY: [&str; 6] = [
    "x-user-id",
    "x-consumer-id",
    "x-tenant-id",
    "x-user-roles",
    "x-consumer-plan",
    "x-client-cert-identity",
];

/// Sends the spoofs (plus `extra` lines) to `target`; returns the echo JSON of a 200, after
/// checking that no spoofed value and no `_`-spelled identity header reached the upstream.
async fn spoofed(
    addr: SocketAddr,
    target: &str,
    spoofs: &[&str],
    extra: &[&str],
    connection: &str,
) -> Value {
    let mut lines: Vec<&str> = spoofs.to_vec();
    lines.extend_from_slice(extra);
    lines.push(connection);
    let raw = raw_get(addr, target, &lines).await;
    assert_eq!(status_of(&raw), 200, "{target}: {raw}");
    let seen: Value = serde_json::from_str(body_of(&raw)).expect("echo JSON");
    let headers = seen["headers"].as_object().expect("headers").clone();
    for (name, vals) in &headers {
        assert!(
            !vals.to_string().to_ascii_lowercase().contains("evil"),
            "{target}: spoofed value reached the upstream in {name}: {seen}"
        );
        let dashed = name.replace('_', "-");
        assert!(
            !(name.contains('_')
                && (IDENTITY.contains(&dashed.as_str()) || dashed == "x-auth-user")),
            "{target}: `_` spelling {name} reached the upstream: {seen}"
        );
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_identity_headers_never_reach_the_upstream() {
    let s = start("").await;
    let conn_list = "Connection: close, X-User-ID, X-Consumer-ID";

    // Unauthenticated route: none of the identity headers arrive at all.
    for conn in [conn_list, "Connection: close"] {
        let seen = spoofed(s.gw.addr, "/public/x", SPOOFS, &[], conn).await;
        for name in IDENTITY {
            assert!(values(&seen, name).is_empty(), "/public {name}: {seen}");
        }
    }

    // Authenticated route: exactly the verified values, single-valued; `Connection: X-User-ID,
    // X-Consumer-ID` does not remove the gateway-set headers.
    for conn in [conn_list, "Connection: close"] {
        let key = format!("X-Api-Key: {USER_KEY}");
        let seen = spoofed(s.gw.addr, "/me/x", SPOOFS, &[&key], conn).await;
        assert_eq!(values(&seen, "x-consumer-id"), ["alice"], "{seen}");
        assert_eq!(values(&seen, "x-tenant-id"), ["acme"], "{seen}");
        assert_eq!(values(&seen, "x-consumer-plan"), ["basic"], "{seen}");
        assert_eq!(values(&seen, "x-user-roles"), ["orders.read"], "{seen}");
        assert!(values(&seen, "x-client-cert-identity").is_empty(), "{seen}");
        assert!(values(&seen, "x-user-id").len() <= 1, "{seen}");
        assert!(
            values(&seen, "x-api-key").is_empty(),
            "key forwarded: {seen}"
        );
    }

    // Anonymous consumer: the guest identity, nothing spoofed.
    let seen = spoofed(s.gw.addr, "/anon/x", SPOOFS, &[], conn_list).await;
    assert_eq!(values(&seen, "x-consumer-id"), ["guest"], "{seen}");
    assert_eq!(values(&seen, "x-consumer-plan"), ["free"], "{seen}");
    assert!(values(&seen, "x-tenant-id").is_empty(), "{seen}");
    assert!(values(&seen, "x-user-roles").len() <= 1, "{seen}");
    assert_eq!(s.admin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_identity_header_names_are_stripped() {
    // With a custom name the gateway owns `x-auth-user`; `x-user-id` is then an ordinary header
    // (not stripped), so only the custom spellings are sent here.
    let s = start("identity: { user_id_header: x-auth-user }\n").await;
    let seen = spoofed(
        s.gw.addr,
        "/public/x",
        &AUTH_USER_SPOOFS,
        &[],
        "Connection: close, X-Auth-User",
    )
    .await;
    assert!(values(&seen, "x-auth-user").is_empty(), "{seen}");
    let key = format!("x-api-key: {USER_KEY}");
    let seen = spoofed(
        s.gw.addr,
        "/me/x",
        &AUTH_USER_SPOOFS,
        &[&key],
        "Connection: close",
    )
    .await;
    assert!(values(&seen, "x-auth-user").len() <= 1, "{seen}");
    assert_eq!(values(&seen, "x-consumer-id"), ["alice"], "{seen}");
}

/// Paths that must never take an unauthenticated request to the admin upstream.
const TRICKS: [&str; 8] = [
    "/public/../admin",
    "/public/%2e%2e/admin",
    "//admin",
    "/ADMIN",
    "/admin%2f..",
    "/./admin",
    "/admin/",
    "/admin;x=1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_never_reach_admin_unauthenticated() {
    let s = start("").await;
    for target in TRICKS {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        let status = status_of(&raw);
        assert!(
            [400, 401, 404].contains(&status),
            "{target}: {status}: {raw}"
        );
        assert_eq!(
            s.admin.hits(),
            0,
            "{target} reached the admin upstream: {raw}"
        );
    }
    // Routing is case-sensitive: /ADMIN matches no route.
    assert_eq!(status_of(&raw_get(s.gw.addr, "/ADMIN", &[]).await), 404);
    // A key without the role: routed to admin, refused by rbac.
    let key = format!("x-api-key: {USER_KEY}");
    for target in ["/public/../admin", "//admin", "/admin/"] {
        let raw = raw_get(s.gw.addr, target, &[&key]).await;
        assert_eq!(status_of(&raw), 403, "{target}: {raw}");
    }
    if require_server("curl") {
        for target in TRICKS {
            let (status, body) = curl_as_is(format!("http://{}{target}", s.gw.addr)).await;
            assert!(
                [400, 401, 404].contains(&status),
                "curl {target}: {status}: {body}"
            );
        }
    }
    assert_eq!(s.admin.hits(), 0, "unauthenticated requests reached admin");
    assert_eq!(s.public.hits(), 0);

    // With the admin key the normalized paths do reach admin, on the normalized path.
    let key = format!("x-api-key: {ADMIN_KEY}");
    for (i, target) in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "//admin",
        "/./admin",
    ]
    .iter()
    .enumerate()
    {
        let raw = raw_get(s.gw.addr, target, &[&key]).await;
        assert_eq!(status_of(&raw), 200, "{target}: {raw}");
        let seen: Value = serde_json::from_str(body_of(&raw)).expect("echo JSON");
        assert_eq!(seen["path"], "/admin", "{target}");
        assert_eq!(values(&seen, "x-consumer-id"), ["root"]);
        assert_eq!(s.admin.hits(), i + 1);
    }
    let raw = raw_get(s.gw.addr, "/ADMIN", &[&key]).await;
    assert_eq!(status_of(&raw), 404, "case-sensitive routing: {raw}");
    assert_eq!(s.admin.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_not_forwarded_or_echoed() {
    let s = start("").await;
    for line in [
        format!("x-api-key: {USER_KEY}"),
        format!("X-API-KEY: {USER_KEY}"),
        format!("Authorization: ApiKey {USER_KEY}"),
    ] {
        let raw = raw_get(s.gw.addr, "/me/x", &[&line]).await;
        assert_eq!(status_of(&raw), 200, "{line}: {raw}");
        let body = body_of(&raw);
        assert!(!body.contains(USER_KEY), "{line}: key forwarded: {body}");
        let seen: Value = serde_json::from_str(body).unwrap();
        assert!(values(&seen, "x-api-key").is_empty());
        assert!(values(&seen, "authorization").is_empty());
    }
    for target in ["/me/x", "/admin/x", "/anon/x"] {
        for line in [
            format!("x-api-key: {REFUSED_KEY}"),
            format!("Authorization: ApiKey {REFUSED_KEY}"),
        ] {
            let raw = raw_get(s.gw.addr, target, &[&line]).await;
            assert_eq!(status_of(&raw), 401, "{target} {line}: {raw}");
            assert!(
                !raw.contains(REFUSED_KEY),
                "{target}: refused key echoed: {raw}"
            );
            assert!(
                raw.to_ascii_lowercase()
                    .contains("content-type: application/problem+json"),
                "{raw}"
            );
        }
    }
    assert_eq!(s.admin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_different_keys_in_one_request_are_refused() {
    let s = start("").await;
    let user = format!("x-api-key: {USER_KEY}");
    let admin = format!("X-Api-Key: {ADMIN_KEY}");
    let refused = format!("x-api-key: {REFUSED_KEY}");
    let user_scheme = format!("Authorization: ApiKey {USER_KEY}");
    let admin_scheme = format!("Authorization: ApiKey {ADMIN_KEY}");
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("/me/x".into(), vec![&user, &admin]),
        ("/me/x".into(), vec![&admin, &user]),
        ("/me/x".into(), vec![&user, &admin_scheme]),
        ("/me/x".into(), vec![&user_scheme, &admin_scheme]),
        (format!("/me/x?api_key={ADMIN_KEY}"), vec![&user]),
        (
            format!("/me/x?api_key={USER_KEY}&api_key={ADMIN_KEY}"),
            vec![],
        ),
        ("/me/x".into(), vec![&user, &refused]),
        ("/admin/x".into(), vec![&admin, &user]),
        ("/anon/x".into(), vec![&user, &admin]),
    ];
    for (target, lines) in &cases {
        let raw = raw_get(s.gw.addr, target, lines).await;
        assert_eq!(status_of(&raw), 401, "{target} {lines:?}: {raw}");
        assert!(
            raw.to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{raw}"
        );
        for key in [USER_KEY, ADMIN_KEY, REFUSED_KEY] {
            assert!(!body_of(&raw).contains(key), "{target}: key echoed: {raw}");
        }
    }
    assert_eq!(s.admin.hits(), 0);
    assert_eq!(s.public.hits(), 0);
    if require_server("curl") {
        let url = format!("http://{}/me/x", s.gw.addr);
        let out = within(
            "curl",
            tokio::task::spawn_blocking(move || {
                std::process::Command::new("curl")
                    .args([
                        "-sS",
                        "--max-time",
                        "10",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                    ])
                    .args(["-H", &format!("x-api-key: {USER_KEY}")])
                    .args(["-H", &format!("x-api-key: {ADMIN_KEY}")])
                    .arg(url)
                    .output()
                    .expect("run curl")
            }),
        )
        .await
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    }

    // The same key in several places is one credential: accepted, removed from all of them.
    let upper = format!("X-API-KEY: {USER_KEY}");
    for (target, lines) in [
        ("/me/x".to_owned(), vec![user.as_str(), upper.as_str()]),
        (
            format!("/me/x?a=1&api_key={USER_KEY}"),
            vec![user.as_str(), user_scheme.as_str()],
        ),
    ] {
        let raw = raw_get(s.gw.addr, &target, &lines).await;
        assert_eq!(status_of(&raw), 200, "{target}: {raw}");
        let body = body_of(&raw);
        assert!(!body.contains(USER_KEY), "{target}: key forwarded: {body}");
        let seen: Value = serde_json::from_str(body).unwrap();
        assert_eq!(values(&seen, "x-consumer-id"), ["alice"], "{seen}");
        assert!(values(&seen, "authorization").is_empty(), "{seen}");
    }
}
