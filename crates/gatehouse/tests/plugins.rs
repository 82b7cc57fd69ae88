//! Built-in plugins end to end: ip_restriction (IPv4 and IPv6), CORS (with curl), header
//! transforms, per-route overrides and `enabled: false`, request id echo.

use std::net::SocketAddr;

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::{require_server, spawn_echo};
use serde_json::Value;

/// A gateway listening on `listen`, one echo upstream, `rest` (routes, plugins) appended.
async fn start(listen: &str, upstream: SocketAddr, rest: &str) -> TestGateway {
    let yaml = format!(
        "listeners:\n  - name: public\n    address: \"{listen}\"\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\n{rest}"
    );
    TestGateway::start(&yaml).await
}

fn route(name: &str, prefix: &str, plugins: &str) -> String {
    format!(
        "  - name: {name}\n    match: {{ path: {{ prefix: {prefix} }} }}\n    upstream: backend\n{}",
        if plugins.is_empty() {
            String::new()
        } else {
            format!("    plugins:\n{plugins}")
        }
    )
}

fn seen(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"][name]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn assert_refused(r: &Reply, what: &str) {
    assert_eq!(r.status, 403, "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(r.json()["status"], 403, "{what}");
}

fn ip_routes(allow_self: &str, deny_self: &str) -> String {
    let mut routes = String::from("routes:\n");
    routes += &route(
        "allow",
        "/allow",
        &format!("      - ip_restriction: {{ allow: [\"{allow_self}\"] }}\n"),
    );
    routes += &route(
        "deny",
        "/deny",
        &format!("      - ip_restriction: {{ deny: [\"{deny_self}\"] }}\n"),
    );
    routes += &route(
        "elsewhere",
        "/elsewhere",
        "      - ip_restriction: { allow: [10.0.0.0/8, \"fd00::/8\"] }\n",
    );
    routes += &route(
        "both",
        "/both",
        &format!(
            "      - ip_restriction: {{ allow: [\"{allow_self}\"], deny: [\"{deny_self}\"] }}\n"
        ),
    );
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_restriction_ipv4() {
    let echo = spawn_echo().await;
    let gw = start(
        "127.0.0.1:0",
        echo.addr,
        &ip_routes("127.0.0.0/8", "127.0.0.1/32"),
    )
    .await;
    assert_eq!(get(&gw.url("/allow"), &[]).await.status, 200);
    assert_refused(&get(&gw.url("/deny"), &[]).await, "deny");
    assert_refused(&get(&gw.url("/elsewhere"), &[]).await, "not allowed");
    assert_refused(&get(&gw.url("/both"), &[]).await, "deny wins");
    assert_eq!(echo.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_restriction_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: ip_restriction_ipv6 (cannot bind [::1])");
        return;
    }
    let echo = spawn_echo().await;
    let gw = start("[::1]:0", echo.addr, &ip_routes("::1/128", "::1")).await;
    assert!(gw.addr.is_ipv6());
    let r = get(&gw.url("/allow"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(seen(&r.json(), "x-forwarded-for"), ["::1"]);
    assert_refused(&get(&gw.url("/deny"), &[]).await, "deny ::1");
    assert_refused(&get(&gw.url("/elsewhere"), &[]).await, "not allowed");
    assert_refused(&get(&gw.url("/both"), &[]).await, "deny wins");
    assert_eq!(echo.hits(), 1);
}

/// Runs curl with `args`; returns (status, lower-cased header lines, body).
async fn curl(args: Vec<String>) -> (u16, Vec<(String, String)>, String) {
    let out = within(
        "curl",
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("curl")
                .args(["-sS", "-i", "--max-time", "10"])
                .args(&args)
                .output()
                .expect("run curl")
        }),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("curl -i output");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn vary_has_origin(headers: &[(String, String)]) -> bool {
    header(headers, "vary")
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("origin"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_actual_requests() {
    if !require_server("curl") {
        return;
    }
    let echo = spawn_echo().await;
    let rest = format!(
        "routes:\n{}plugins:\n  - cors: {{ allow_origins: [\"http://app.test\"], max_age: 10m }}\n",
        route("all", "/", "")
    );
    let gw = start("127.0.0.1:0", echo.addr, &rest).await;
    let url = gw.url("/api/thing");
    let preflight = |origin: &str| {
        vec![
            "-X".into(),
            "OPTIONS".into(),
            "-H".into(),
            format!("Origin: {origin}"),
            "-H".into(),
            "Access-Control-Request-Method: GET".into(),
            "-H".into(),
            "Access-Control-Request-Headers: x-custom".into(),
            url.clone(),
        ]
    };

    let (status, h, _) = curl(preflight("http://app.test")).await;
    assert_eq!(status, 204, "{h:?}");
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        ["http://app.test"]
    );
    assert!(vary_has_origin(&h), "{h:?}");
    assert_eq!(header(&h, "access-control-max-age"), ["600"]);
    let allow_headers = header(&h, "access-control-allow-headers").join(",");
    assert!(
        allow_headers.to_ascii_lowercase().contains("x-custom"),
        "{h:?}"
    );

    let (status, h, _) = curl(preflight("http://evil.test")).await;
    assert_ne!(status, 204);
    assert!(
        header(&h, "access-control-allow-origin").is_empty(),
        "{h:?}"
    );
    assert_eq!(echo.hits(), 0, "preflights are never forwarded");

    let (status, h, body) = curl(vec![
        "-H".into(),
        "Origin: http://app.test".into(),
        url.clone(),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        ["http://app.test"]
    );
    assert!(vary_has_origin(&h), "{h:?}");

    let (status, h, _) = curl(vec![
        "-H".into(),
        "Origin: http://evil.test".into(),
        url.clone(),
    ])
    .await;
    assert_eq!(status, 200);
    assert!(
        header(&h, "access-control-allow-origin").is_empty(),
        "{h:?}"
    );
    assert!(vary_has_origin(&h), "{h:?}");
    assert_eq!(echo.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_transforms_both_ways() {
    let echo = spawn_echo().await;
    let plugins = "      - request_headers:\n          add: { x-added: a }\n          set: { x-set: s }\n          remove: [x-drop]\n          rename: { x-old: x-new }\n      - response_headers:\n          add: { x-resp-added: ra }\n          set: { x-up: replaced }\n          remove: [x-secret]\n          rename: { x-from: x-to }\n";
    let rest = format!("routes:\n{}", route("all", "/", plugins));
    let gw = start("127.0.0.1:0", echo.addr, &rest).await;
    let r = get(
        &gw.url("/headers?set=x-up:orig&set=x-secret:s3&set=x-from:moved"),
        &[
            ("x-added", "client"),
            ("x-set", "client"),
            ("x-drop", "gone"),
            ("x-old", "o"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(seen(&v, "x-added"), ["client", "a"]);
    assert_eq!(seen(&v, "x-set"), ["s"]);
    assert!(seen(&v, "x-drop").is_empty());
    assert!(seen(&v, "x-old").is_empty());
    assert_eq!(seen(&v, "x-new"), ["o"]);

    assert_eq!(r.header("x-resp-added"), Some("ra"));
    assert_eq!(
        r.headers.get_all("x-up").iter().collect::<Vec<_>>(),
        ["replaced"]
    );
    assert!(r.header("x-secret").is_none());
    assert!(r.header("x-from").is_none());
    assert_eq!(r.header("x-to"), Some("moved"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_plugins_override_or_disable_globals() {
    let echo = spawn_echo().await;
    let rest = format!(
        "routes:\n{}{}{}plugins:\n  - response_headers: {{ set: {{ x-scope: global }} }}\n  - ip_restriction: {{ deny: [127.0.0.0/8] }}\n",
        route(
            "plain",
            "/plain",
            "      - ip_restriction: {}\n        enabled: false\n"
        ),
        route(
            "override",
            "/override",
            "      - response_headers: { set: { x-scope: route } }\n      - ip_restriction: { allow: [127.0.0.1/32] }\n"
        ),
        route(
            "off",
            "/off",
            "      - response_headers: {}\n        enabled: false\n"
        ),
    );
    let gw = start("127.0.0.1:0", echo.addr, &rest).await;

    let r = get(&gw.url("/plain"), &[]).await;
    assert_eq!(r.status, 200, "ip_restriction disabled on /plain");
    assert_eq!(r.header("x-scope"), Some("global"));

    let r = get(&gw.url("/override"), &[]).await;
    assert_eq!(
        r.status, 200,
        "route ip_restriction replaces the global one"
    );
    assert_eq!(
        r.headers.get_all("x-scope").iter().collect::<Vec<_>>(),
        ["route"]
    );

    // /off keeps the global ip_restriction (denied) but not the global response_headers.
    let r = get(&gw.url("/off"), &[]).await;
    assert_refused(&r, "global ip_restriction on /off");
    assert!(r.header("x-scope").is_none(), "{:?}", r.headers);
    assert_eq!(echo.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_echoed_in_the_response() {
    let echo = spawn_echo().await;
    let rest = format!(
        "routes:\n{}plugins:\n  - request_id: {{ echo_in_response: true }}\n",
        route("all", "/", "")
    );
    let gw = start("127.0.0.1:0", echo.addr, &rest).await;
    let r = get(&gw.url("/x"), &[]).await;
    let id = r.header("x-request-id").expect("echoed id").to_owned();
    assert_eq!(seen(&r.json(), "x-request-id"), [id.as_str()]);
    assert_eq!(id.len(), 36, "{id}");

    let r = get(&gw.url("/x"), &[("x-request-id", "from-client-7")]).await;
    assert_eq!(r.header("x-request-id"), Some("from-client-7"));
    assert_eq!(seen(&r.json(), "x-request-id"), ["from-client-7"]);
}
