//! `server.paths` and `match.path.case_insensitive`, end to end: a key-protected `/admin` next to
//! a public catch-all (`prefix: /`), and paths that back-ends (Tomcat/Spring, IIS, double
//! decoders) read as `/admin` although the router would not. None may reach an upstream as an
//! admin path without a key.
//!
//! Requests are written raw over TCP (no client rewrites them) and, where curl is available, sent
//! with curl `--path-as-is`. The echo upstreams answer with the path they received.

use std::net::SocketAddr;
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, raw_exchange, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::raw::{body_of, curl_as_is, status_of};
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use gatehouse_testkit::{Upstream, require_server, spawn_echo};
use serde_json::Value;

const RAW_WAIT: Duration = Duration::from_secs(3);
const ADMIN_KEY: &str = "path-policy-admin-key-3c1e";

/// The paths of the security review (issue 10, finding 4).
const REVIEW_PATHS: [&str; 6] = [
    "/ADMIN",
    "/admin.",
    "/admin;x",
    "/admin;",
    "/admin%20",
    "/%252e%252e/admin",
];

/// Sibling spellings of the same class, found while fixing the review's.
const SIBLINGS: &[&str] = &[
    "/admin%2e",
    "/admin%2E/x",
    "/admin./x",
    "/admin..",
    "/admin.%20",
    "/admin%20.",
    "/admin/..;/",
    "/public/..;/admin",
    "/%2e%2e;/admin",
    "/admin;jsessionid=1",
    "/admin;%2f..",
    "/admin%3Bx",
    "/admin%3b",
    "/admin%09",
    "/admin%0d%0a",
    "/admin%7f",
    "/admin%C2%A0",
    "/admin%E3%80%80",
    "/admin%E2%80%8B",
    "/%20admin",
    "/%09admin",
    "/%252E%252E/admin",
    "/x/%252e%252e/admin",
    "/x%252fadmin",
    "/x%255c..%255cadmin",
    "/%2525252e/admin",
    "/%2561dmin",
    "/%25%32%65%25%32%65/admin",
    "/%25u002e%25u002e/admin",
    "/%c0%ae%c0%ae/admin",
    "/x%c0%afadmin",
    "/%e0%80%ae%e0%80%ae/admin",
];

struct Setup {
    gw: TestGateway,
    admin: Upstream,
    public: Upstream,
}

/// `/admin` (key_auth) on the admin echo, everything else on the public echo. `paths` is the
/// `server.paths` mapping (`{}` = defaults); `admin_path` the admin route's path condition.
async fn start(paths: &str, admin_path: &str) -> Setup {
    let admin = spawn_echo().await;
    let public = spawn_echo().await;
    let yaml = format!(
        r#"{PUBLIC_LISTENER_NO_ADMIN}  paths: {paths}
upstreams:
  admin:
    targets: ["{}"]
  public:
    targets: ["{}"]
consumers:
  - {{ id: root, api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: admin
    match: {{ path: {admin_path} }}
    upstream: admin
    plugins:
      - key_auth: {{ header: x-api-key }}
  - name: public
    match: {{ path: {{ prefix: / }} }}
    upstream: public
"#,
        admin.addr,
        public.addr,
        sha256_hex_via_cli(ADMIN_KEY),
    );
    Setup {
        gw: TestGateway::start(&yaml).await,
        admin,
        public,
    }
}

/// A raw `GET target` with extra header lines, `Connection: close`.
async fn raw_get(addr: SocketAddr, target: &str, lines: &[&str]) -> String {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: gw.test\r\n");
    for line in lines {
        req.push_str(line);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    within("raw", raw_exchange(addr, req.as_bytes(), RAW_WAIT)).await
}

/// Asserts a `400` `application/problem+json` answer.
#[track_caller]
fn assert_problem_400(target: &str, raw: &str) {
    assert_eq!(status_of(raw), 400, "{target}: {raw}");
    let head = raw
        .split_once("\r\n\r\n")
        .map_or("", |(h, _)| h)
        .to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/problem+json"),
        "{target}: {raw}"
    );
    let v: Value = serde_json::from_str(body_of(raw)).expect("problem JSON");
    assert_eq!(v["status"], 400, "{target}: {v}");
    assert!(
        v["detail"].as_str().is_some_and(|d| d.starts_with("path ")),
        "{target}: {v}"
    );
}

/// The echo's JSON from a `200` answer.
#[track_caller]
fn echoed(target: &str, raw: &str) -> Value {
    assert_eq!(status_of(raw), 200, "{target}: {raw}");
    serde_json::from_str(body_of(raw)).expect("echo JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_paths_never_reach_an_upstream_without_a_key() {
    let s = start("{}", "{ prefix: /admin, case_insensitive: true }").await;
    for target in REVIEW_PATHS {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        if target == "/ADMIN" {
            assert_eq!(status_of(&raw), 401, "{target}: {raw}");
        } else {
            assert_problem_400(target, &raw);
        }
        assert_eq!(s.admin.hits(), 0, "{target} reached admin: {raw}");
        assert_eq!(s.public.hits(), 0, "{target} reached the catch-all: {raw}");
    }
    if require_server("curl") {
        for target in REVIEW_PATHS {
            let (status, body) = curl_as_is(format!("http://{}{target}", s.gw.addr)).await;
            let want = if target == "/ADMIN" { 401 } else { 400 };
            assert_eq!(status, want, "curl {target}: {body}");
        }
        assert_eq!(s.admin.hits() + s.public.hits(), 0);
    }
    // With the key, the case-insensitive route takes `/ADMIN` to admin, case kept.
    let key = format!("x-api-key: {ADMIN_KEY}");
    let raw = raw_get(s.gw.addr, "/ADMIN", &[&key]).await;
    assert_eq!(echoed("/ADMIN", &raw)["path"], "/ADMIN");
    assert_eq!(s.admin.hits(), 1);
    // The plain path still works, and other paths still reach the catch-all.
    let raw = raw_get(s.gw.addr, "/admin/x", &[&key]).await;
    assert_eq!(echoed("/admin/x", &raw)["path"], "/admin/x");
    for target in [
        "/adminx",
        "/a.b/c",
        "/my%20file",
        "/100%25",
        "/.well-known/x",
    ] {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        assert_eq!(echoed(target, &raw)["path"], target, "{target}");
    }
    assert_eq!(s.admin.hits(), 2);
    assert_eq!(s.public.hits(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_spellings_are_refused_by_default() {
    let s = start("{}", "{ prefix: /admin }").await;
    for target in SIBLINGS {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        assert_problem_400(target, &raw);
    }
    if require_server("curl") {
        for target in SIBLINGS {
            let (status, body) = curl_as_is(format!("http://{}{target}", s.gw.addr)).await;
            assert_eq!(status, 400, "curl {target}: {body}");
        }
    }
    assert_eq!(s.admin.hits(), 0, "a sibling reached admin");
    assert_eq!(s.public.hits(), 0, "a sibling reached the catch-all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_sensitive_by_default_so_admin_in_capitals_is_a_catch_all_path() {
    // The documented default: `/ADMIN` is not under `prefix: /admin`. A back-end that ignores case
    // needs `case_insensitive: true` on the protected route (previous test).
    let s = start("{}", "{ prefix: /admin }").await;
    let raw = raw_get(s.gw.addr, "/ADMIN", &[]).await;
    assert_eq!(echoed("/ADMIN", &raw)["path"], "/ADMIN");
    assert_eq!((s.admin.hits(), s.public.hits()), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strip_mode_routes_and_forwards_the_stripped_path() {
    let s = start("{ matrix_params: strip }", "{ prefix: /admin }").await;
    let key = format!("x-api-key: {ADMIN_KEY}");
    // Stripped before routing: these are `/admin…` paths and need the key.
    for target in [
        "/admin;x",
        "/admin;",
        "/admin/x;jsessionid=1",
        "/public/..;/admin",
        "/%2e%2e;/admin",
        "/;x/admin",
    ] {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        assert_eq!(status_of(&raw), 401, "{target}: {raw}");
    }
    assert_eq!(s.admin.hits() + s.public.hits(), 0);
    // ... and forwarded stripped, query kept.
    let raw = raw_get(s.gw.addr, "/admin/x;jsessionid=1?a=b", &[&key]).await;
    let seen = echoed("/admin/x;jsessionid=1", &raw);
    assert_eq!(seen["path"], "/admin/x");
    assert_eq!(seen["query"], "a=b");
    let raw = raw_get(s.gw.addr, "/public;v=1/..;/admin;y/z;w", &[&key]).await;
    assert_eq!(echoed("/public/../admin", &raw)["path"], "/admin/z");
    assert_eq!(s.admin.hits(), 2);
    let raw = raw_get(s.gw.addr, "/a;x/b;y=1", &[]).await;
    assert_eq!(echoed("/a;x/b;y=1", &raw)["path"], "/a/b");
    assert_eq!(s.public.hits(), 1);
    // An encoded `;` and the other rules still refuse.
    for target in [
        "/admin%3Bx",
        "/admin.;x",
        "/admin%20;x",
        "/%252e%252e;/admin",
    ] {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        assert_problem_400(target, &raw);
    }
    if require_server("curl") {
        let url = format!("http://{}/admin/x;jsessionid=1", s.gw.addr);
        let (status, _) = curl_as_is(url).await;
        assert_eq!(status, 401);
        let (status, body) = curl_as_is(format!("http://{}/a;x/b;y=1", s.gw.addr)).await;
        assert_eq!(status, 200, "{body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen["path"], "/a/b");
    }
    assert_eq!(s.admin.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_mode_is_the_old_opt_in_behaviour() {
    let s = start(
        "{ matrix_params: allow, trailing_dots: allow, whitespace: allow, double_encoding: allow, overlong_utf8: allow }",
        "{ prefix: /admin }",
    )
    .await;
    // Each reaches the catch-all as written (normalized): the operator opted out.
    for (target, forwarded) in [
        ("/admin;x", "/admin;x"),
        ("/admin.", "/admin."),
        ("/admin%20", "/admin%20"),
        ("/%252e%252e/admin", "/%252e%252e/admin"),
        ("/%c0%ae", "/%C0%AE"),
    ] {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        assert_eq!(echoed(target, &raw)["path"], forwarded, "{target}");
    }
    assert_eq!((s.admin.hits(), s.public.hits()), (0, 5));
    // The base rules still hold.
    assert_problem_400("/admin%2f", &raw_get(s.gw.addr, "/admin%2f", &[]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_insensitive_exact_and_template_routes() {
    let s = start(
        "{}",
        "{ template: \"/Admin/{id}\", case_insensitive: true }",
    )
    .await;
    let key = format!("x-api-key: {ADMIN_KEY}");
    for target in ["/admin/1", "/ADMIN/1", "/aDmIn/Bob"] {
        let raw = raw_get(s.gw.addr, target, &[]).await;
        assert_eq!(status_of(&raw), 401, "{target}: {raw}");
    }
    let raw = raw_get(s.gw.addr, "/ADMIN/Bob", &[&key]).await;
    assert_eq!(echoed("/ADMIN/Bob", &raw)["path"], "/ADMIN/Bob");
    // Not the template's shape: the catch-all.
    let raw = raw_get(s.gw.addr, "/ADMIN", &[]).await;
    assert_eq!(echoed("/ADMIN", &raw)["path"], "/ADMIN");
    assert_eq!((s.admin.hits(), s.public.hits()), (1, 1));
}
