use gatehouse_config::model::{RbacConfig, RoleRule};
use http::StatusCode;

use super::*;
use crate::builtin::testing::{cx, req};

fn rule(any_of: &[&str], all_of: &[&str]) -> RoleRule {
    RoleRule {
        any_of: any_of.iter().map(|s| s.to_string()).collect(),
        all_of: all_of.iter().map(|s| s.to_string()).collect(),
    }
}

fn identity(roles: &[&str]) -> Identity {
    Identity {
        method: "key_auth",
        consumer_id: Some("acme".into()),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        ..Identity::default()
    }
}

fn plugin() -> Rbac {
    Rbac::new(&RbacConfig {
        default: rule(&["orders.read", "orders.admin"], &[]),
        methods: vec![
            (Method::POST, rule(&[], &["orders.write", "orders.read"])),
            (Method::DELETE, rule(&["orders.admin"], &["orders.write"])),
        ],
    })
}

async fn status(p: &Rbac, method: &str, roles: Option<&[&str]>) -> Option<StatusCode> {
    let mut cx = cx();
    cx.identity = roles.map(identity);
    let mut parts = req(method, &[]);
    match p.on_access(&mut cx, &mut parts).await.unwrap() {
        Flow::Continue => None,
        Flow::Respond(r) => {
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            Some(r.status())
        }
    }
}

#[test]
fn any_of_needs_one_role() {
    let r = rule(&["a", "b"], &[]);
    assert_eq!(check(&r, &["b".into()]), Ok(()));
    assert_eq!(check(&r, &["c".into()]), Err(Refusal::AnyOf));
    assert_eq!(check(&r, &[]), Err(Refusal::AnyOf));
}

#[test]
fn all_of_needs_every_role() {
    let r = rule(&[], &["a", "b"]);
    assert_eq!(check(&r, &["a".into(), "b".into(), "c".into()]), Ok(()));
    assert_eq!(check(&r, &["a".into()]), Err(Refusal::AllOf));
}

#[test]
fn both_lists_and_empty_rule() {
    let r = rule(&["x", "y"], &["a"]);
    assert_eq!(check(&r, &["a".into(), "y".into()]), Ok(()));
    assert_eq!(check(&r, &["a".into()]), Err(Refusal::AnyOf));
    assert_eq!(check(&r, &["x".into()]), Err(Refusal::AllOf));
    assert_eq!(check(&rule(&[], &[]), &[]), Ok(()));
}

#[test]
fn roles_match_exactly() {
    let r = rule(&["orders.read"], &[]);
    assert!(check(&r, &["Orders.Read".into()]).is_err());
    assert!(check(&r, &["orders.rea".into()]).is_err());
    assert!(check(&r, &["orders.read ".into()]).is_err());
}

#[tokio::test]
async fn per_method_rules_and_default() {
    let p = plugin();
    assert_eq!(status(&p, "GET", Some(&["orders.read"])).await, None);
    assert_eq!(status(&p, "HEAD", Some(&["orders.admin"])).await, None);
    assert_eq!(
        status(&p, "GET", Some(&["orders.write"])).await,
        Some(StatusCode::FORBIDDEN)
    );
    // POST has its own rule: the default's any_of does not apply.
    assert_eq!(
        status(&p, "POST", Some(&["orders.write", "orders.read"])).await,
        None
    );
    assert_eq!(
        status(&p, "POST", Some(&["orders.read", "orders.admin"])).await,
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        status(&p, "DELETE", Some(&["orders.admin", "orders.write"])).await,
        None
    );
    assert_eq!(
        status(&p, "DELETE", Some(&["orders.write"])).await,
        Some(StatusCode::FORBIDDEN)
    );
}

#[tokio::test]
async fn empty_rule_allows_any_identity() {
    let p = Rbac::new(&RbacConfig {
        default: RoleRule::default(),
        methods: vec![],
    });
    assert_eq!(status(&p, "GET", Some(&[])).await, None);
}

#[tokio::test]
async fn no_identity_is_401_with_challenge() {
    let p = plugin();
    let mut cx = cx();
    let mut parts = req("GET", &[]);
    let Flow::Respond(r) = p.on_access(&mut cx, &mut parts).await.unwrap() else {
        panic!("expected a refusal");
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"gatehouse\""
    );
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["status"], 401);
    assert_eq!(v["request_id"], "gen-id");
}

#[tokio::test]
async fn refusal_body_is_generic() {
    let p = plugin();
    let mut cx = cx();
    cx.identity = Some(identity(&["nope"]));
    let mut parts = req("GET", &[]);
    let Flow::Respond(r) = p.on_access(&mut cx, &mut parts).await.unwrap() else {
        panic!("expected a refusal");
    };
    let body = String::from_utf8(r.body().to_vec()).unwrap();
    assert!(!body.contains("orders."), "{body}");
}
