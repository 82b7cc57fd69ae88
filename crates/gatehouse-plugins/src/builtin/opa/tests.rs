use std::path::PathBuf;
use std::time::Duration;

use gatehouse_config::model::{ExternalOpa, OpaConfig};
use http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::Identity;
use crate::builtin::testing::cx;

const POLICY: &str = r#"
package gatehouse

default allow := false

allow if "orders.read" in input.consumer.roles

decision := {"allow": true, "headers": {"x-policy": "ok", "host": "evil", "content-length": "1"}} if {
    input.path_params.id == "42"
    input.headers["x-env"] == "prod"
}

decision := {"allow": false, "status": 429, "reason": "too many orders", "headers": {"retry-after": "7"}} if {
    input.path_params.id == "7"
}

decision := {"allow": false, "status": 200, "reason": "bad status"} if input.path_params.id == "200"

conflict := 1 if input.query.a
conflict := 2 if input.query.b

echo := input
"#;

/// Writes `text` to a fresh file and returns its path.
fn policy_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatehouse-opa-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.rego");
    std::fs::write(&path, text).unwrap();
    path
}

fn opa(name: &str, query: &str) -> Opa {
    Opa::new(&OpaConfig {
        policies: vec![policy_file(name, POLICY)],
        query: query.to_owned(),
        headers: vec![HeaderName::from_static("x-env")],
        external: None,
    })
    .unwrap()
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn with_roles(roles: &[&str]) -> RequestContext {
    let mut cx = cx();
    cx.route = Some("orders".into());
    cx.identity = Some(Identity {
        method: "anonymous",
        consumer_id: Some("acme".into()),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        ..Identity::default()
    });
    cx
}

async fn run(p: &Opa, cx: &mut RequestContext, req: &mut request::Parts) -> Option<LocalResponse> {
    match p.on_access(cx, req).await.unwrap() {
        Flow::Continue => None,
        Flow::Respond(r) => {
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            Some(r)
        }
    }
}

#[tokio::test]
async fn boolean_decision_allows_by_role() {
    let p = opa("bool", "data.gatehouse.allow");
    let mut req = request("GET", "/orders", &[]);
    assert!(
        run(&p, &mut with_roles(&["orders.read"]), &mut req)
            .await
            .is_none()
    );
    let r = run(&p, &mut with_roles(&["other"]), &mut req)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // No identity: `input.consumer` is null, the default applies.
    let r = run(&p, &mut cx(), &mut req).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn object_decision_with_status_headers_and_reason() {
    let p = opa("object", "data.gatehouse.decision");
    let mut cx = with_roles(&[]);
    cx.params = vec![("id".into(), "7".into())];
    let mut req = request("GET", "/orders/7", &[]);
    let r = run(&p, &mut cx, &mut req).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "7");
    let body = String::from_utf8(r.body().to_vec()).unwrap();
    assert!(
        !body.contains("too many orders"),
        "reason is not sent: {body}"
    );

    cx.params = vec![("id".into(), "200".into())];
    let r = run(&p, &mut cx, &mut req).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a non-error status becomes 403"
    );
}

#[tokio::test]
async fn path_params_and_allowlisted_headers_reach_the_policy() {
    let p = opa("params", "data.gatehouse.decision");
    let mut cx = with_roles(&[]);
    cx.params = vec![("id".into(), "42".into())];
    let mut req = request("GET", "/orders/42", &[("x-env", "prod")]);
    assert!(run(&p, &mut cx, &mut req).await.is_none());
    // Headers from the decision go on the upstream request, reserved ones dropped.
    p.on_upstream_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(req.headers["x-policy"], "ok");
    assert!(req.headers.get("host").is_none());
    assert!(req.headers.get("content-length").is_none());

    let mut req = request("GET", "/orders/42", &[("x-env", "dev")]);
    let r = run(&p, &mut cx, &mut req).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "undefined decision denies"
    );
}

#[tokio::test]
async fn undefined_and_failed_evaluations_deny() {
    let p = opa("undefined", "data.gatehouse.decision");
    let mut cx = with_roles(&["orders.read"]);
    let mut req = request("GET", "/x", &[]);
    assert_eq!(p.evaluate(&cx, &req).await, Evaluation::Undefined);
    assert_eq!(run(&p, &mut cx, &mut req).await.unwrap().status(), 403);

    let p = opa("conflict", "data.gatehouse.conflict");
    let mut req = request("GET", "/x?a=1&b=1", &[]);
    assert!(matches!(p.evaluate(&cx, &req).await, Evaluation::Failed(_)));
    assert_eq!(run(&p, &mut cx, &mut req).await.unwrap().status(), 403);
    // A non-boolean, non-object value is malformed: denied.
    let mut req = request("GET", "/x?a=1", &[]);
    assert_eq!(run(&p, &mut cx, &mut req).await.unwrap().status(), 403);
}

#[tokio::test]
async fn input_document() {
    let p = opa("echo", "data.gatehouse.echo");
    let mut cx = with_roles(&["r1"]);
    cx.params = vec![("id".into(), "42".into())];
    if let Some(id) = cx.identity.as_mut() {
        id.claims = Some(json!({"sub": "u1"}));
    }
    let req = request(
        "POST",
        "/a/../orders//42?page=2&tag=a&tag=b%20c&q=x+y",
        &[
            ("x-env", "prod"),
            ("x-env", "eu"),
            ("authorization", "secret"),
        ],
    );
    let Evaluation::Value(v) = p.evaluate(&cx, &req).await else {
        panic!("expected a value");
    };
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/orders/42");
    assert_eq!(v["path_params"], json!({"id": "42"}));
    assert_eq!(
        v["query"],
        json!({"page": "2", "tag": ["a", "b c"], "q": "x y"})
    );
    assert_eq!(
        v["headers"],
        json!({"x-env": "prod, eu"}),
        "only allowlisted headers"
    );
    assert_eq!(v["client_ip"], "192.0.2.1");
    assert_eq!(v["consumer"]["id"], "acme");
    assert_eq!(v["consumer"]["roles"], json!(["r1"]));
    assert_eq!(v["claims"], json!({"sub": "u1"}));
    assert_eq!(v["route"], "orders");
}

#[test]
fn build_errors() {
    let cfg = |policies: Vec<PathBuf>, query: &str| OpaConfig {
        policies,
        query: query.to_owned(),
        headers: vec![],
        external: None,
    };
    let err = |c: OpaConfig| Opa::new(&c).unwrap_err().to_string();
    assert!(err(cfg(vec!["/nonexistent/x.rego".into()], "data.a.b")).contains("cannot read"));
    let bad = policy_file("syntax", "package p\nallow if {");
    assert!(err(cfg(vec![bad], "data.p.allow")).contains("opa"));
    let ok = policy_file("missing-rule", POLICY);
    assert!(err(cfg(vec![ok], "data.gatehouse.nope")).contains("query"));
    assert!(err(cfg(vec![], "data.a.b")).contains("no policy"));
    let ext = |url: &str| OpaConfig {
        external: Some(ExternalOpa {
            url: url.to_owned(),
            timeout: Duration::from_millis(100),
        }),
        ..cfg(vec![], "data.a.b")
    };
    assert!(err(ext("https://opa.test/v1/data/x")).contains("http://"));
    assert!(err(ext("/v1/data/x")).contains("http://"));
}

#[test]
fn decision_parsing() {
    let d = Decision::parse(json!(true)).unwrap();
    assert!(d.allow);
    let d = Decision::parse(json!({"allow": false, "status": 451, "reason": "r"})).unwrap();
    assert_eq!(
        (d.allow, d.status.as_u16(), d.reason.as_deref()),
        (false, 451, Some("r"))
    );
    assert!(Decision::parse(json!({"allow": "yes"})).is_err());
    assert!(Decision::parse(json!({"status": 403})).is_err());
    assert!(Decision::parse(json!("allow")).is_err());
    assert!(Decision::parse(json!(null)).is_err());
    let d = Decision::parse(json!({"allow": false, "status": 70000})).unwrap();
    assert_eq!(d.status, StatusCode::FORBIDDEN);
    let d = Decision::parse(json!({"allow": true, "headers": {"bad name": "v", "x-ok": "1", "x-n": 2, "Connection": "close"}})).unwrap();
    assert_eq!(d.headers.len(), 1);
    assert_eq!(d.headers[0].0, "x-ok");
}

/// A one-shot fake OPA: answers each connection with `answer` after `delay`, returns what it got.
async fn fake_opa(
    answer: &'static str,
    delay: Duration,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/data/gatehouse/decision",
        listener.local_addr().unwrap()
    );
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("}}") {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        tokio::time::sleep(delay).await;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        String::from_utf8_lossy(&got).into_owned()
    });
    (url, task)
}

fn external(url: String, timeout_ms: u64) -> Opa {
    Opa::new(&OpaConfig {
        policies: vec![],
        query: "data.gatehouse.decision".to_owned(),
        headers: vec![],
        external: Some(ExternalOpa {
            url,
            timeout: Duration::from_millis(timeout_ms),
        }),
    })
    .unwrap()
}

#[tokio::test]
async fn external_decisions() {
    let (url, task) = fake_opa(
        r#"{"result": {"allow": false, "status": 402}}"#,
        Duration::ZERO,
    )
    .await;
    let p = external(url, 2_000);
    let mut cx = with_roles(&["r"]);
    let mut req = request("GET", "/orders", &[]);
    let r = run(&p, &mut cx, &mut req).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYMENT_REQUIRED);
    let sent = task.await.unwrap();
    assert!(
        sent.starts_with("POST /v1/data/gatehouse/decision HTTP/1.1"),
        "{sent}"
    );
    assert!(sent.contains(r#"{"input":{"#), "{sent}");

    let (url, _task) = fake_opa(r#"{"result": true}"#, Duration::ZERO).await;
    assert!(
        run(&external(url, 2_000), &mut cx, &mut req)
            .await
            .is_none()
    );

    let (url, _task) = fake_opa(r#"{}"#, Duration::ZERO).await;
    let r = run(&external(url, 2_000), &mut cx, &mut req).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "undefined document denies"
    );
}

#[tokio::test]
async fn external_slow_or_down_fails_closed_with_503() {
    let (url, _task) = fake_opa(r#"{"result": true}"#, Duration::from_secs(5)).await;
    let p = external(url, 100);
    let mut cx = with_roles(&["r"]);
    let mut req = request("GET", "/orders", &[]);
    let r = tokio::time::timeout(Duration::from_secs(3), run(&p, &mut cx, &mut req))
        .await
        .expect("bounded by the OPA timeout")
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = external(format!("http://127.0.0.1:{port}/v1/data/x"), 500);
    let r = run(&p, &mut cx, &mut req).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn query_parsing() {
    let q = input::query("a=1&&b&c=%2F%zz&a=2&a=3");
    assert_eq!(q["a"], json!(["1", "2", "3"]));
    assert_eq!(q["b"], "");
    assert_eq!(q["c"], "/%zz");
}
