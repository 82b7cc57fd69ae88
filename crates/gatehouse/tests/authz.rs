//! Authorization end to end: `rbac` per method and `opa` (in-process policy files, hot reload with
//! a changed policy, an external OPA server that answers, denies, and stalls). The identity comes
//! from each route's anonymous consumer (`auth: { anonymous: … }`), so no authentication plugin is
//! involved.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_testkit::gateway::{Reply, TestGateway, get, http_client, scratch_dir, send, within};
use gatehouse_testkit::spawn_echo;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const CONSUMERS: &str = "consumers:\n  - { id: reader, roles: [orders.read] }\n  - { id: writer, roles: [orders.read, orders.write] }\n  - { id: nobody }\n";

/// A gateway with one echo upstream, the consumers above, and `routes`.
async fn start(upstream: SocketAddr, routes: &str) -> TestGateway {
    let yaml = format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  enabled: false\nserver:\n  watch: false\nupstreams:\n  backend:\n    targets: [\"{upstream}\"]\n{CONSUMERS}routes:\n{routes}"
    );
    TestGateway::start(&yaml).await
}

/// A route on `path` (`{ prefix: … }` or `{ template: … }`) whose caller is the anonymous
/// consumer `who` (none: no authentication).
fn route(name: &str, path: &str, who: Option<&str>, plugins: &str) -> String {
    let auth = who.map_or(String::new(), |w| {
        format!("    auth: {{ anonymous: {w} }}\n")
    });
    format!(
        "  - name: {name}\n    match: {{ path: {path} }}\n    upstream: backend\n{auth}    plugins:\n{plugins}"
    )
}

fn prefix(p: &str) -> String {
    format!("{{ prefix: {p} }}")
}

async fn request(gw: &TestGateway, method: &str, path: &str) -> Reply {
    let req = http::Request::builder()
        .method(method)
        .uri(gw.url(path))
        .body(Full::new(Bytes::new()))
        .unwrap();
    within(path, send(&http_client(), req)).await.unwrap()
}

fn assert_problem(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(r.json()["status"], status, "{what}");
}

const RBAC: &str = "      - rbac: { any_of: [orders.read], methods: { POST: { all_of: [orders.write] }, DELETE: { any_of: [orders.admin] } } }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_per_method() {
    let echo = spawn_echo().await;
    let mut routes = route("reader", &prefix("/reader"), Some("reader"), RBAC);
    routes += &route("writer", &prefix("/writer"), Some("writer"), RBAC);
    routes += &route("nobody", &prefix("/nobody"), Some("nobody"), RBAC);
    routes += &route("unauthenticated", &prefix("/open"), None, RBAC);
    let gw = start(echo.addr, &routes).await;

    assert_eq!(request(&gw, "GET", "/reader/1").await.status, 200);
    assert_eq!(echo.hits(), 1);
    let r = request(&gw, "POST", "/reader/1").await;
    assert_problem(&r, 403, "POST needs orders.write");
    assert!(!String::from_utf8_lossy(&r.body).contains("orders."));
    assert_eq!(
        echo.hits(),
        1,
        "a refused request never reaches the upstream"
    );

    assert_eq!(request(&gw, "GET", "/writer/1").await.status, 200);
    assert_eq!(request(&gw, "POST", "/writer/1").await.status, 200);
    assert_problem(
        &request(&gw, "DELETE", "/writer/1").await,
        403,
        "DELETE needs orders.admin",
    );
    assert_eq!(echo.hits(), 3);

    assert_problem(&get(&gw.url("/nobody/1"), &[]).await, 403, "no role");
    let r = get(&gw.url("/open/1"), &[]).await;
    assert_problem(&r, 401, "rbac without authentication");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"gatehouse\"")
    );
    assert_eq!(echo.hits(), 3);
}

const POLICY_V1: &str = r#"package gatehouse

default decision := {"allow": false, "reason": "no rule matched"}

decision := {"allow": true, "headers": {"x-policy": "v1"}} if {
    input.method == "GET"
    "orders.read" in input.consumer.roles
    input.path_params.id != "7"
    not input.headers["x-env"] == "blocked"
}

decision := {"allow": false, "status": 451, "reason": "order 7 is embargoed", "headers": {"x-denied-by": "policy"}} if {
    input.path_params.id == "7"
}
"#;

const POLICY_V2: &str = r#"package gatehouse

default decision := false

decision := {"allow": true, "headers": {"x-policy": "v2"}} if input.consumer.id == "writer"
"#;

fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("authz.rego");
    std::fs::write(&path, text).unwrap();
    path
}

/// One route per consumer, `/<consumer>/{id}`, each with `plugin`.
fn routes_with(plugin: &str) -> String {
    ["reader", "writer", "nobody"]
        .iter()
        .map(|who| {
            let path = format!("{{ template: \"/{who}/{{id}}\" }}");
            route(who, &path, Some(who), plugin)
        })
        .collect()
}

fn local_opa(policy: &Path) -> String {
    format!(
        "      - opa: {{ policies: [\"{}\"], query: data.gatehouse.decision, headers: [x-env] }}\n",
        policy.display()
    )
}

fn upstream_saw(r: &Reply, name: &str) -> Option<String> {
    r.json()["headers"][name][0].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opa_policy_file_allow_deny_and_reload() {
    let echo = spawn_echo().await;
    let dir = scratch_dir();
    let policy = write_policy(&dir, POLICY_V1);
    let gw = start(echo.addr, &routes_with(&local_opa(&policy))).await;

    let r = get(&gw.url("/reader/1"), &[("x-policy", "forged")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        upstream_saw(&r, "x-policy").as_deref(),
        Some("v1"),
        "decision header replaces the client's"
    );
    assert_eq!(echo.hits(), 1);

    let r = get(&gw.url("/reader/7"), &[]).await;
    assert_problem(&r, 451, "object decision with status");
    assert_eq!(r.header("x-denied-by"), Some("policy"));
    assert!(
        !String::from_utf8_lossy(&r.body).contains("embargoed"),
        "reason is not sent"
    );
    assert_problem(
        &get(&gw.url("/reader/1"), &[("x-env", "blocked")]).await,
        403,
        "allowlisted header in input",
    );
    assert_problem(&get(&gw.url("/nobody/1"), &[]).await, 403, "no role");
    assert_problem(
        &request(&gw, "POST", "/reader/1").await,
        403,
        "method in input",
    );
    assert_eq!(echo.hits(), 1, "denied requests never reach the upstream");

    // A changed policy takes effect with the next configuration.
    write_policy(&dir, POLICY_V2);
    assert_eq!(
        request(&gw, "GET", "/reader/1").await.status,
        200,
        "compiled once: file edits alone change nothing"
    );
    gw.reloader.reload("test").expect("reload");
    assert_problem(
        &get(&gw.url("/reader/1"), &[]).await,
        403,
        "v2 denies reader",
    );
    let r = request(&gw, "POST", "/writer/1").await;
    assert_eq!(r.status, 200);
    assert_eq!(upstream_saw(&r, "x-policy").as_deref(), Some("v2"));

    // A broken policy is refused and the running one stays.
    write_policy(&dir, "package gatehouse\ndecision := {");
    assert!(gw.reloader.reload("test").is_err());
    assert_eq!(request(&gw, "POST", "/writer/1").await.status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fake OPA Data API: answers `POST` with `{"result": <answer>}`, where the answer is picked by
/// the consumer id in the input: `writer` allowed, `reader` denied with 402, `nobody` stalled.
async fn spawn_fake_opa() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let count = count.clone();
                    async move {
                        count.fetch_add(1, Ordering::SeqCst);
                        let path_ok = req.uri().path() == "/v1/data/gatehouse/decision";
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let input: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let who = input["input"]["consumer"]["id"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned();
                        let result = match (path_ok, who.as_str()) {
                            (true, "writer") => {
                                r#"{"result": {"allow": true, "headers": {"x-policy": "external"}}}"#
                            }
                            (true, "reader") => {
                                r#"{"result": {"allow": false, "status": 402, "reason": "pay"}}"#
                            }
                            (true, _) => {
                                tokio::time::sleep(Duration::from_secs(10)).await;
                                r#"{"result": true}"#
                            }
                            (false, _) => "{}",
                        };
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(result))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), service)
                    .await;
            });
        }
    });
    (addr, asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_opa_allows_denies_and_fails_closed() {
    let echo = spawn_echo().await;
    let (opa, asked) = spawn_fake_opa().await;
    let plugin = format!(
        "      - opa: {{ external: {{ url: \"http://{opa}/v1/data/gatehouse/decision\", timeout: 300ms }} }}\n"
    );
    let gw = start(echo.addr, &routes_with(&plugin)).await;

    let r = get(&gw.url("/writer/1"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(upstream_saw(&r, "x-policy").as_deref(), Some("external"));
    assert_problem(&get(&gw.url("/reader/1"), &[]).await, 402, "denied by OPA");

    // OPA stalls: the gateway answers 503 within the timeout, never forwarding.
    let r = within("stalled OPA", get(&gw.url("/nobody/1"), &[])).await;
    assert_problem(&r, 503, "OPA did not answer in time");
    assert_eq!(echo.hits(), 1);
    assert_eq!(asked.load(Ordering::SeqCst), 3);
}
