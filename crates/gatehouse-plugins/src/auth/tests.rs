use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gatehouse_config::model::Consumer;

use super::*;

/// A method that always answers the same.
struct Fixed {
    name: &'static str,
    outcome: fn() -> AuthOutcome,
}

#[async_trait]
impl Authenticator for Fixed {
    fn name(&self) -> &'static str {
        self.name
    }
    fn challenge(&self) -> HeaderValue {
        HeaderValue::from_static("Bearer realm=\"test\"")
    }
    async fn authenticate(
        &self,
        _cx: &RequestContext,
        _req: &mut request::Parts,
    ) -> Result<AuthOutcome> {
        Ok((self.outcome)())
    }
}

fn ok_a() -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        method: "a",
        subject: Some("alice".into()),
        roles: vec!["r1".into()],
        ..Default::default()
    })
}
fn ok_b() -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        method: "b",
        subject: Some("bob".into()),
        roles: vec!["r2".into()],
        ..Default::default()
    })
}
fn none() -> AuthOutcome {
    AuthOutcome::NoCredentials
}
fn bad() -> AuthOutcome {
    AuthOutcome::Rejected(AuthFailure::unauthorized(
        "Bearer error=\"invalid_token\"",
        "bad",
    ))
}

fn method(name: &'static str, outcome: fn() -> AuthOutcome) -> Arc<dyn Authenticator> {
    Arc::new(Fixed { name, outcome })
}

fn registry() -> ConsumerRegistry {
    ConsumerRegistry::new(&[Consumer {
        id: "guest".into(),
        tenant: None,
        plan: Some("free".into()),
        groups: vec![],
        roles: vec!["public".into()],
        api_key_hashes: vec![],
        certificates: vec![],
        jwt_subjects: vec![],
        metadata: Default::default(),
    }])
}

async fn run(gate: &AuthGate) -> (RequestContext, Flow) {
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
    let mut cx = RequestContext::new("rid".into(), peer, peer.ip(), "http");
    let (mut parts, ()) = http::Request::new(()).into_parts();
    let flow = gate.on_access(&mut cx, &mut parts).await.unwrap();
    (cx, flow)
}

fn policy(mode: AuthMode, anonymous: Option<&str>) -> RouteAuth {
    RouteAuth {
        mode,
        anonymous: anonymous.map(str::to_owned),
    }
}

fn status(flow: &Flow) -> Option<StatusCode> {
    match flow {
        Flow::Respond(r) => Some(r.status()),
        Flow::Continue => None,
    }
}

#[tokio::test]
async fn any_of_takes_the_first_method_that_accepts() {
    let gate = AuthGate::new(
        vec![method("a", none), method("b", ok_b)],
        None,
        &registry(),
    );
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), None);
    assert_eq!(cx.identity.unwrap().subject.as_deref(), Some("bob"));
}

#[tokio::test]
async fn refused_credentials_are_401_even_when_another_method_would_accept() {
    let gate = AuthGate::new(vec![method("a", bad), method("b", ok_b)], None, &registry());
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), Some(StatusCode::UNAUTHORIZED));
    assert!(cx.identity.is_none());
    let Flow::Respond(r) = flow else {
        unreachable!()
    };
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        r.headers()[http::header::CONTENT_TYPE],
        "application/problem+json"
    );
}

#[tokio::test]
async fn no_credentials_is_401_with_the_first_methods_challenge() {
    let gate = AuthGate::new(
        vec![method("a", none), method("b", none)],
        None,
        &registry(),
    );
    let (_, flow) = run(&gate).await;
    let Flow::Respond(r) = flow else {
        panic!("expected 401")
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"test\"");
}

#[tokio::test]
async fn anonymous_consumer_only_when_nothing_was_presented() {
    let p = policy(AuthMode::AnyOf, Some("guest"));
    let gate = AuthGate::new(vec![method("a", none)], Some(&p), &registry());
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), None);
    let id = cx.identity.unwrap();
    assert!(id.anonymous);
    assert_eq!(id.consumer_id.as_deref(), Some("guest"));
    assert_eq!(id.roles, vec!["public".to_owned()]);

    let gate = AuthGate::new(vec![method("a", bad)], Some(&p), &registry());
    let (_, flow) = run(&gate).await;
    assert_eq!(status(&flow), Some(StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn all_of_needs_every_method_and_merges_roles() {
    let p = policy(AuthMode::AllOf, None);
    let gate = AuthGate::new(
        vec![method("a", ok_a), method("b", ok_b)],
        Some(&p),
        &registry(),
    );
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), None);
    let id = cx.identity.unwrap();
    assert_eq!(id.subject.as_deref(), Some("alice"));
    assert_eq!(id.roles, vec!["r1".to_owned(), "r2".to_owned()]);

    let gate = AuthGate::new(
        vec![method("a", none), method("b", ok_b)],
        Some(&p),
        &registry(),
    );
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), Some(StatusCode::UNAUTHORIZED));
    assert!(cx.identity.is_none());
}

#[tokio::test]
async fn anonymous_only_route_without_methods() {
    let p = policy(AuthMode::AnyOf, Some("guest"));
    let gate = AuthGate::new(vec![], Some(&p), &registry());
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), None);
    assert!(cx.identity.unwrap().anonymous);
}

fn crlf_subject() -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        method: "a",
        subject: Some("alice\r\nx-user-roles: admin".into()),
        ..Default::default()
    })
}
fn comma_role() -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        method: "b",
        subject: Some("bob".into()),
        roles: vec!["orders.read,admin".into()],
        ..Default::default()
    })
}
fn object_email() -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        method: "a",
        subject: Some("alice".into()),
        claims: Some(serde_json::json!({"email": {"a": 1}, "org": {"id": 7}, "tags": ["x"]})),
        ..Default::default()
    })
}
fn ambiguous() -> AuthOutcome {
    AuthOutcome::Rejected(AuthFailure::ambiguous("Bearer error=\"invalid_request\""))
}

#[tokio::test]
async fn identities_that_cannot_be_forwarded_are_401_never_anonymous() {
    let p = policy(AuthMode::AnyOf, Some("guest"));
    for outcome in [crlf_subject as fn() -> AuthOutcome, comma_role] {
        let gate = AuthGate::new(vec![method("a", outcome)], Some(&p), &registry());
        let (cx, flow) = run(&gate).await;
        assert_eq!(status(&flow), Some(StatusCode::UNAUTHORIZED));
        assert!(cx.identity.is_none());
    }
    // All-of: the second method's identity is checked too.
    let all = policy(AuthMode::AllOf, None);
    let gate = AuthGate::new(
        vec![method("a", ok_a), method("b", comma_role)],
        Some(&all),
        &registry(),
    );
    assert_eq!(status(&run(&gate).await.1), Some(StatusCode::UNAUTHORIZED));

    // Claims matter only when forwarded (`identity.claim_headers`).
    let gate = AuthGate::new(vec![method("a", object_email)], None, &registry());
    assert_eq!(status(&run(&gate).await.1), None);
    for path in ["email", "tags"] {
        let gate = AuthGate::new(vec![method("a", object_email)], None, &registry())
            .forwarding_claims(Arc::new(vec!["org.id".into(), path.into()]));
        assert_eq!(
            status(&run(&gate).await.1),
            Some(StatusCode::UNAUTHORIZED),
            "{path}"
        );
    }
    let gate = AuthGate::new(vec![method("a", object_email)], None, &registry())
        .forwarding_claims(Arc::new(vec!["org.id".into(), "missing".into()]));
    assert_eq!(status(&run(&gate).await.1), None);
}

#[tokio::test]
async fn ambiguous_credentials_are_401_with_a_detail_never_anonymous() {
    let p = policy(AuthMode::AnyOf, Some("guest"));
    let gate = AuthGate::new(
        vec![method("a", ambiguous), method("b", ok_b)],
        Some(&p),
        &registry(),
    );
    let (cx, flow) = run(&gate).await;
    assert!(cx.identity.is_none());
    let Flow::Respond(r) = flow else {
        panic!("expected 401")
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE],
        "Bearer error=\"invalid_request\""
    );
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("more than one credential"),
        "{body}"
    );
}

#[test]
fn header_safe_values() {
    for ok in ["user-1", "jos\u{e9}", "a b", "spiffe://x/y"] {
        assert!(crate::header_safe(ok), "{ok:?}");
    }
    for bad in [
        "", " a", "a ", "a\r\nb", "a\nb", "a\0b", "a\tb", "a\u{7f}", "a\u{85}b",
    ] {
        assert!(!crate::header_safe(bad), "{bad:?}");
    }
}

fn ok_alice_again() -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        method: "b",
        subject: Some("alice".into()),
        ..Default::default()
    })
}

#[tokio::test]
async fn any_of_refuses_credentials_of_two_callers_or_an_invalid_second_one() {
    // A valid key of alice next to a valid token of bob: which caller would the upstream see?
    for second in [ok_b as fn() -> AuthOutcome, bad] {
        let gate = AuthGate::new(
            vec![method("a", ok_a), method("b", second)],
            Some(&policy(AuthMode::AnyOf, Some("guest"))),
            &registry(),
        );
        let (cx, flow) = run(&gate).await;
        assert_eq!(status(&flow), Some(StatusCode::UNAUTHORIZED));
        assert!(cx.identity.is_none());
        let Flow::Respond(r) = flow else {
            unreachable!()
        };
        let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            body["detail"],
            "the request carries more than one credential; send exactly one"
        );
    }
    // Two credentials of one caller are fine; a method with nothing to see changes nothing.
    let gate = AuthGate::new(
        vec![
            method("a", ok_a),
            method("b", ok_alice_again),
            method("c", none),
        ],
        None,
        &registry(),
    );
    let (cx, flow) = run(&gate).await;
    assert_eq!(status(&flow), None);
    let identity = cx.identity.unwrap();
    assert_eq!(
        (identity.method, identity.subject.as_deref()),
        ("a", Some("alice"))
    );
}
