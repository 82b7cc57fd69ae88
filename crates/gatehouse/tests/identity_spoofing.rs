//! Headers that claim an authority only a gateway has, end to end: the identity headers of other
//! gateways (Kong, oauth2-proxy, Azure Easy Auth, …) that upstreams written for them trust, and
//! method overrides (`X-HTTP-Method-Override` and friends) that would turn a GET the gateway
//! checked into a DELETE the upstream executes.
//!
//! Requests are written raw over TCP (no client normalizes names or drops duplicates) and, where
//! curl is available, sent with curl too. The echo upstream answers with what it received, so the
//! assertions are on exactly what the upstream saw.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use gatehouse_testkit::gateway::{TestGateway, raw_exchange, within};
use gatehouse_testkit::keys::sha256_hex_via_cli;
use gatehouse_testkit::raw::{body_of, status_of};
use gatehouse_testkit::{Upstream, require_server, spawn_echo};
use serde_json::Value;

const RAW_WAIT: Duration = Duration::from_secs(3);
const USER_KEY: &str = "user-key-8c41aa";

/// Other gateways' identity headers, as a client would forge them: mixed case, `_` spellings.
/// Every value contains "evil".
const FOREIGN: &[&str] = &[
    // Kong
    "X-Consumer-ID: evil-kong-id",
    "X-Consumer-Username: evil-admin",
    "X-Consumer-Custom-ID: evil-custom",
    "X-Consumer-Groups: evil-admins",
    "X-Credential-Identifier: evil-cred",
    "X-Credential-Username: evil-cred-user",
    "X-Anonymous-Consumer: false-evil",
    "X-Authenticated-Userid: evil-userid",
    "X-Authenticated-Scope: evil-scope",
    "x_consumer_username: evil_admin",
    "X_Authenticated_Userid: evil_userid",
    // oauth2-proxy
    "X-Auth-Request-User: evil-user",
    "X-Auth-Request-Email: evil@evil.test",
    "X-Auth-Request-Groups: evil-group",
    "X-Auth-Request-Preferred-Username: evil-pref",
    "X-Auth-Request-Access-Token: evil-token",
    "X-Forwarded-User: evil-fwd-user",
    "X-Forwarded-Email: evil-fwd@evil.test",
    "X-Forwarded-Groups: evil-fwd-groups",
    "X-Forwarded-Preferred-Username: evil-fwd-pref",
    "X-Forwarded-Access-Token: evil-fwd-token",
    "x_auth_request_email: evil_mail",
    "X_Forwarded_User: evil_fwd",
    // Generic auth proxies
    "X-Auth-User: evil-auth-user",
    "X-Remote-User: evil-remote",
    "Remote-User: evil-remote-2",
    "Remote-Groups: evil-remote-groups",
    "X-User: evil-x-user",
    "X-Userid: evil-x-userid",
    "X-Email: evil@x-email.test",
    "X-WEBAUTH-USER: evil-webauth",
    "x_remote_user: evil_remote",
    // Azure App Service / Easy Auth, Google IAP, AWS ALB, Cloudflare Access, Envoy/Istio
    "X-MS-CLIENT-PRINCIPAL: evil-principal",
    "X-Ms-Client-Principal-Name: evil-principal-name",
    "X-MS-CLIENT-PRINCIPAL-ID: evil-principal-id",
    "X-MS-TOKEN-AAD-ID-TOKEN: evil-aad",
    "X-Goog-Authenticated-User-Email: accounts.google.com:evil@evil.test",
    "X-Amzn-Oidc-Identity: evil-alb",
    "Cf-Access-Authenticated-User-Email: evil@cf.test",
    "X-Forwarded-Client-Cert: By=spiffe://evil;URI=spiffe://evil",
    "x_ms_client_principal_name: evil_principal",
];

/// Headers that look related but are not identity headers: forwarded untouched.
const KEPT: &[(&str, &str)] = &[
    ("X-Consumer-Trace", "kept-1"),
    ("X-Forwarded-Prefix", "/kept"),
    ("X-Auth-Requested-With", "kept-3"),
    ("X-Users-Count", "kept-4"),
];

struct Setup {
    gw: TestGateway,
    _echo: Upstream,
}

/// `/public` (no auth), `/me` (key_auth), `/read` (GET only), `/items` (DELETE only) and
/// `/form` (POST only) on one echo upstream. `identity` and `server` are inserted as written.
async fn start(identity: &str, server: &str) -> Setup {
    let echo = spawn_echo().await;
    let yaml = format!(
        r#"listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  enabled: false
server:
  watch: false
{server}{identity}upstreams:
  backend:
    targets: ["{}"]
consumers:
  - {{ id: alice, tenant: acme, roles: [orders.read], api_keys: [{{ sha256: "{}" }}] }}
routes:
  - name: public
    match: {{ path: {{ prefix: /public }} }}
    upstream: backend
  - name: me
    match: {{ path: {{ prefix: /me }} }}
    upstream: backend
    plugins:
      - key_auth: {{ header: x-api-key }}
  - name: read
    match: {{ path: {{ prefix: /read }}, methods: [GET] }}
    upstream: backend
  - name: items
    match: {{ path: {{ prefix: /items }}, methods: [DELETE] }}
    upstream: backend
  - name: form
    match: {{ path: {{ prefix: /form }}, methods: [POST] }}
    upstream: backend
"#,
        echo.addr,
        sha256_hex_via_cli(USER_KEY)
    );
    Setup {
        gw: TestGateway::start(&yaml).await,
        _echo: echo,
    }
}

/// A raw request with the given header lines (each without CRLF) and `Connection: close`.
async fn raw(addr: SocketAddr, method: &str, target: &str, lines: &[&str]) -> String {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: gw.test\r\n");
    for line in lines {
        req.push_str(line);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    within("raw", raw_exchange(addr, req.as_bytes(), RAW_WAIT)).await
}

/// The echo JSON of a 200.
fn echoed(raw: &str, what: &str) -> Value {
    assert_eq!(status_of(raw), 200, "{what}: {raw}");
    serde_json::from_str(body_of(raw)).expect("echo JSON")
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

/// Fails when any value the upstream saw contains "evil".
fn assert_clean(seen: &Value, what: &str) {
    for (name, vals) in seen["headers"].as_object().expect("headers") {
        assert!(
            !vals.to_string().to_ascii_lowercase().contains("evil"),
            "{what}: forged value reached the upstream in {name}: {seen}"
        );
    }
}

/// GET with curl, extra `-H` headers; returns (status, body).
async fn curl_get(url: String, headers: Vec<String>) -> (u16, String) {
    let out = within(
        "curl",
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"]);
            for h in &headers {
                cmd.args(["-H", h]);
            }
            cmd.arg(&url).output().expect("run curl")
        }),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("curl output");
    (code.parse().expect("status"), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_gateways_identity_headers_are_stripped_by_default() {
    let s = start("", "").await;
    let kept: Vec<String> = KEPT.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    let mut lines: Vec<&str> = FOREIGN.to_vec();
    lines.extend(kept.iter().map(String::as_str));

    // Unauthenticated and authenticated routes alike.
    let seen = echoed(&raw(s.gw.addr, "GET", "/public/x", &lines).await, "/public");
    assert_clean(&seen, "/public");
    for (name, value) in KEPT {
        assert_eq!(
            values(&seen, &name.to_ascii_lowercase()),
            [*value],
            "{name}: {seen}"
        );
    }
    let key = format!("X-Api-Key: {USER_KEY}");
    let mut with_key = lines.clone();
    with_key.push(&key);
    let seen = echoed(&raw(s.gw.addr, "GET", "/me/x", &with_key).await, "/me");
    assert_clean(&seen, "/me");
    // The gateway's own consumer header carries the verified consumer, once.
    assert_eq!(values(&seen, "x-consumer-id"), ["alice"], "{seen}");
    assert!(values(&seen, "x-consumer-username").is_empty(), "{seen}");

    // Listed in `Connection:` too: still stripped, nothing else lost.
    let mut listed = lines.clone();
    listed.push("Connection: close, X-Consumer-Username, X-Forwarded-User");
    let seen = echoed(&raw(s.gw.addr, "GET", "/public/y", &listed).await, "listed");
    assert_clean(&seen, "listed");

    if require_server("curl") {
        let headers: Vec<String> = FOREIGN
            .iter()
            .filter(|h| !h.contains('_')) // curl sends `_` names too, but keep it to its usual use
            .map(|h| (*h).to_owned())
            .collect();
        let (status, body) = curl_get(s.gw.url("/public/curl"), headers).await;
        assert_eq!(status, 200, "{body}");
        assert_clean(&serde_json::from_str(&body).expect("echo JSON"), "curl");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strip_headers_and_prefixes_replace_the_default_family() {
    let s = start(
        "identity:\n  strip_headers: [x-legacy-user, X_Legacy_Roles]\n  strip_prefixes: [x-sso-]\n",
        "",
    )
    .await;
    let lines = [
        "X-Legacy-User: evil-legacy",
        "x_legacy_user: evil_legacy",
        "X-Legacy-Roles: evil-roles",
        "X-SSO-Subject: evil-sso",
        "x_sso_email: evil_sso",
        // The gateway's own headers are stripped whatever the list says.
        "X-User-ID: evil-own",
        "x_consumer_id: evil_own",
        // No longer in the family: forwarded.
        "X-Consumer-Username: kong-user",
        "X-Forwarded-User: proxy-user",
    ];
    let seen = echoed(&raw(s.gw.addr, "GET", "/public/x", &lines).await, "custom");
    assert_clean(&seen, "custom");
    assert_eq!(values(&seen, "x-consumer-username"), ["kong-user"]);
    assert_eq!(values(&seen, "x-forwarded-user"), ["proxy-user"]);

    // An empty list turns the family off; the owned headers stay stripped.
    let s = start("identity: { strip_headers: [], strip_prefixes: [] }\n", "").await;
    let lines = [
        "X-Auth-Request-Email: a@b.test",
        "X-MS-CLIENT-PRINCIPAL-NAME: someone",
        "X-User-ID: evil-own",
    ];
    let seen = echoed(&raw(s.gw.addr, "GET", "/public/x", &lines).await, "off");
    assert_clean(&seen, "off");
    assert_eq!(values(&seen, "x-auth-request-email"), ["a@b.test"]);
    assert_eq!(values(&seen, "x-ms-client-principal-name"), ["someone"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_strip_settings_are_refused_with_their_location() {
    let cases = [
        (
            "identity:\n  strip_headers: [authorization]\n",
            "identity.strip_headers[0]",
        ),
        (
            "identity:\n  strip_headers: [\"bad header\"]\n",
            "identity.strip_headers[0]",
        ),
        (
            "identity:\n  strip_headers: x-user\n",
            "identity.strip_headers",
        ),
        (
            "identity:\n  strip_prefixes: [\"\"]\n",
            "identity.strip_prefixes[0]",
        ),
        (
            "identity:\n  strip_prefixes: [co]\n",
            "identity.strip_prefixes[0]",
        ),
        (
            "server:\n  method_override: maybe\n",
            "server.method_override",
        ),
    ];
    for (section, path) in cases {
        let yaml = format!(
            "listeners:\n  - {{ name: p, address: 127.0.0.1:0 }}\n{section}upstreams:\n  b: {{ targets: [\"127.0.0.1:9\"] }}\nroutes:\n  - {{ name: r, match: {{ path: {{ prefix: / }} }}, upstream: b }}\n"
        );
        let err = gatehouse_config::load_str(&yaml, std::path::Path::new("gw.yaml"))
            .expect_err(section)
            .to_string();
        assert!(err.contains(path), "{section}: {err}");
    }
}

/// The override headers a client may send, each set to `value`.
fn overrides(value: &str) -> Vec<String> {
    [
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
        "x_http_method_override",
    ]
    .iter()
    .map(|n| format!("{n}: {value}"))
    .collect()
}

fn assert_no_override_headers(seen: &Value, what: &str) {
    for name in seen["headers"].as_object().expect("headers").keys() {
        let dashed = name.replace('_', "-");
        assert!(
            ![
                "x-http-method-override",
                "x-http-method",
                "x-method-override"
            ]
            .contains(&dashed.as_str()),
            "{what}: {name} reached the upstream: {seen}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_overrides_are_stripped_by_default() {
    let s = start("", "").await;
    let lines = overrides("DELETE");
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();

    // GET-only route: the upstream sees a GET and no override.
    let seen = echoed(&raw(s.gw.addr, "GET", "/read/1", &lines).await, "GET");
    assert_eq!(seen["method"], "GET");
    assert_no_override_headers(&seen, "GET");

    // A POST does not become a DELETE: the DELETE-only route is not matched.
    let r = raw(s.gw.addr, "POST", "/items/1", &lines).await;
    assert_eq!(status_of(&r), 404, "{r}");
    // On a POST route it stays a POST, without the headers.
    let seen = echoed(&raw(s.gw.addr, "POST", "/form", &lines).await, "POST");
    assert_eq!(seen["method"], "POST");
    assert_no_override_headers(&seen, "POST");

    if require_server("curl") {
        let (status, body) = curl_get(
            s.gw.url("/read/curl"),
            vec!["X-HTTP-Method-Override: DELETE".into()],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let seen: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(seen["method"], "GET");
        assert_no_override_headers(&seen, "curl");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honored_method_overrides_route_and_forward_the_overridden_method() {
    let s = start("", "  method_override: honor\n").await;

    // POST + override DELETE: routed as DELETE, forwarded as DELETE, headers removed.
    for line in [
        "X-HTTP-Method-Override: DELETE",
        "X-HTTP-Method: delete",
        "X-Method-Override: DELETE",
    ] {
        let seen = echoed(&raw(s.gw.addr, "POST", "/items/1", &[line]).await, line);
        assert_eq!(seen["method"], "DELETE", "{line}");
        assert_no_override_headers(&seen, line);
    }
    // Two headers with the same method are one override.
    let seen = echoed(
        &raw(
            s.gw.addr,
            "POST",
            "/items/2",
            &[
                "X-HTTP-Method-Override: DELETE",
                "X-Method-Override: DELETE",
            ],
        )
        .await,
        "agreeing",
    );
    assert_eq!(seen["method"], "DELETE");
    // A POST overridden to GET reaches the GET-only route.
    let seen = echoed(
        &raw(
            s.gw.addr,
            "POST",
            "/read/1",
            &["X-HTTP-Method-Override: GET"],
        )
        .await,
        "GET",
    );
    assert_eq!(seen["method"], "GET");

    // Only a POST can be overridden: a GET stays a GET (and the header is removed).
    let seen = echoed(
        &raw(
            s.gw.addr,
            "GET",
            "/read/2",
            &["X-HTTP-Method-Override: DELETE"],
        )
        .await,
        "GET",
    );
    assert_eq!(seen["method"], "GET");
    assert_no_override_headers(&seen, "GET");
    // An `_` spelling is never honored (and never forwarded): a POST stays a POST.
    let r = raw(
        s.gw.addr,
        "POST",
        "/items/3",
        &["x_http_method_override: DELETE"],
    )
    .await;
    assert_eq!(status_of(&r), 404, "{r}");

    // Unknown, dangerous or conflicting overrides: 400 problem+json, nothing forwarded.
    for lines in [
        vec!["X-HTTP-Method-Override: CONNECT"],
        vec!["X-HTTP-Method-Override: TRACE"],
        vec!["X-HTTP-Method-Override: PURGE"],
        vec!["X-HTTP-Method-Override: DEL ETE"],
        vec!["X-HTTP-Method-Override: "],
        vec!["X-HTTP-Method-Override: DELETE", "X-Method-Override: PUT"],
        vec![
            "X-HTTP-Method-Override: DELETE",
            "X-HTTP-Method-Override: GET",
        ],
    ] {
        let r = raw(s.gw.addr, "POST", "/items/4", &lines).await;
        assert_eq!(status_of(&r), 400, "{lines:?}: {r}");
        assert!(
            r.to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{r}"
        );
    }
}
