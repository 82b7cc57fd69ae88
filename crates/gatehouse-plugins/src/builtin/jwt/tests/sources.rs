//! Token sources, credential removal, consumer mapping and the outcome values.

use gatehouse_config::model::Consumer;
use http::request;

use super::*;
use crate::builtin::testing::cx;

fn parts(uri: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn inline_config(m: &Value) -> JwtConfig {
    let pem = m["rsa_pem"].as_str().unwrap().to_owned();
    let mut c = config(vec![issuer(ISSUER, &["RS256"], JwtKeys::Inline(vec![pem]))]);
    c.sources = vec![
        TokenSource::Bearer,
        TokenSource::Cookie("session".into()),
        TokenSource::Query("access_token".into()),
    ];
    c
}

async fn run(j: &Jwt, req: &mut request::Parts) -> AuthOutcome {
    j.authenticate(&cx(), req).await.unwrap()
}

#[tokio::test]
async fn bearer_cookie_and_query_tokens_are_read_and_removed() {
    let Some(m) = minted() else { return };
    let j = jwt(&inline_config(m));
    let t = token(m, "valid_rs256");

    let mut req = parts("/a?x=1", &[("authorization", &format!("Bearer {t}"))]);
    assert!(matches!(
        run(&j, &mut req).await,
        AuthOutcome::Authenticated(_)
    ));
    assert!(req.headers.get("authorization").is_none());

    let cookie = format!("theme=dark; session={t}; lang=en");
    let mut req = parts("/a", &[("cookie", &cookie)]);
    assert!(matches!(
        run(&j, &mut req).await,
        AuthOutcome::Authenticated(_)
    ));
    assert_eq!(req.headers["cookie"], "theme=dark; lang=en");

    let mut req = parts(&format!("/a/b?x=1&access_token={t}&y=2"), &[]);
    assert!(matches!(
        run(&j, &mut req).await,
        AuthOutcome::Authenticated(_)
    ));
    assert_eq!(req.uri.to_string(), "/a/b?x=1&y=2");
    let mut req = parts(&format!("/a?access_token={t}"), &[]);
    assert!(matches!(
        run(&j, &mut req).await,
        AuthOutcome::Authenticated(_)
    ));
    assert_eq!(req.uri.to_string(), "/a");
}

#[tokio::test]
async fn missing_foreign_and_invalid_credentials() {
    let Some(m) = minted() else { return };
    let j = jwt(&inline_config(m));
    for headers in [
        &[][..],
        &[("authorization", "Basic dXNlcjpwdw==")][..],
        &[("cookie", "other=1")][..],
    ] {
        assert!(matches!(
            run(&j, &mut parts("/", headers)).await,
            AuthOutcome::NoCredentials
        ));
    }
    let expired = format!("Bearer {}", token(m, "expired"));
    let mut req = parts("/", &[("authorization", &expired)]);
    match run(&j, &mut req).await {
        AuthOutcome::Rejected(f) => {
            assert_eq!(f.status, http::StatusCode::UNAUTHORIZED);
            assert_eq!(f.challenge.unwrap(), "Bearer error=\"invalid_token\"");
            assert_eq!(f.reason, "token expired");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        req.headers.get("authorization").is_some(),
        "kept on refusal (never forwarded)"
    );
    assert_eq!(j.challenge(), "Bearer realm=\"gatehouse\"");
    // Oversized: refused before parsing.
    let big = format!("Bearer {}", "a".repeat(9000));
    assert!(matches!(
        run(&j, &mut parts("/", &[("authorization", &big)])).await,
        AuthOutcome::Rejected(_)
    ));
}

#[tokio::test]
async fn keep_credential_and_consumer_mapping() {
    let Some(m) = minted() else { return };
    let mut c = inline_config(m);
    c.keep_credential = true;
    c.roles_claim = Some("scope".into());
    let consumer = Consumer {
        id: "acme".into(),
        tenant: Some("acme-corp".into()),
        plan: Some("pro".into()),
        groups: vec![],
        roles: vec!["partner".into()],
        api_key_hashes: vec![],
        certificates: vec![],
        jwt_subjects: vec!["user-1".into()],
        metadata: Default::default(),
    };
    let registry = Arc::new(crate::ConsumerRegistry::new(&[consumer]));
    let j = Jwt::new(&c, registry).unwrap();
    let bearer = format!("Bearer {}", token(m, "valid_rs256"));
    let mut req = parts("/", &[("authorization", &bearer)]);
    let AuthOutcome::Authenticated(id) = run(&j, &mut req).await else {
        panic!()
    };
    assert!(req.headers.get("authorization").is_some());
    assert_eq!(id.consumer_id.as_deref(), Some("acme"));
    assert_eq!(id.tenant.as_deref(), Some("acme-corp"));
    assert_eq!(id.plan.as_deref(), Some("pro"));
    assert_eq!(id.subject.as_deref(), Some("user-1"));
    assert_eq!(id.roles, ["partner", "orders.read", "orders.write"]);
    // A subject with no consumer: identity from the token alone.
    let bearer = format!("Bearer {}", token(m, "valid_spoof_sub"));
    let AuthOutcome::Authenticated(id) =
        run(&j, &mut parts("/", &[("authorization", &bearer)])).await
    else {
        panic!()
    };
    assert_eq!(id.consumer_id, None);
    assert_eq!(id.subject.as_deref(), Some("real-user"));
}

#[test]
fn roles_from_arrays_strings_and_paths() {
    let claims = serde_json::json!({"scope": "a b  c", "realm": {"roles": ["x", 1, "y"]}});
    assert_eq!(verify::roles_from(&claims, "scope"), ["a", "b", "c"]);
    assert_eq!(verify::roles_from(&claims, "realm.roles"), ["x", "y"]);
    assert!(verify::roles_from(&claims, "nope").is_empty());
}

#[test]
fn cache_control_max_age() {
    let mut h = http::HeaderMap::new();
    assert_eq!(fetch::max_age(&h), None);
    h.insert(
        "cache-control",
        "public, max-age=600, must-revalidate".parse().unwrap(),
    );
    assert_eq!(fetch::max_age(&h), Some(Duration::from_secs(600)));
    h.insert("cache-control", "no-store".parse().unwrap());
    assert_eq!(fetch::max_age(&h), Some(Duration::ZERO));
}

#[tokio::test]
async fn different_tokens_are_ambiguous_the_same_token_twice_is_one() {
    let Some(m) = minted() else { return };
    let j = jwt(&inline_config(m));
    let (a, b) = (token(m, "valid_rs256"), token(m, "valid_rs256_other_sub"));
    let (ba, bb) = (format!("Bearer {a}"), format!("Bearer {b}"));
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            "/".into(),
            vec![("authorization", ba.clone()), ("authorization", bb.clone())],
        ),
        (
            format!("/?access_token={b}"),
            vec![("authorization", ba.clone())],
        ),
        (
            "/".into(),
            vec![
                ("authorization", ba.clone()),
                ("cookie", format!("session={b}")),
            ],
        ),
        (
            "/".into(),
            vec![("cookie", format!("session={a}; session={b}"))],
        ),
        (format!("/?access_token={a}&access_token={b}"), vec![]),
        (
            "/".into(),
            vec![
                ("authorization", ba.clone()),
                ("authorization", "Bearer x.y.z".into()),
            ],
        ),
    ];
    for (uri, headers) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let mut req = parts(uri, &headers);
        match run(&j, &mut req).await {
            AuthOutcome::Rejected(f) => {
                assert_eq!(f.status, 401, "{uri}");
                assert_eq!(
                    f.challenge.unwrap(),
                    "Bearer error=\"invalid_request\"",
                    "{uri}"
                );
            }
            other => panic!("{uri} {headers:?}: {other:?}"),
        }
    }
    // The same token in every source: accepted, removed from all of them.
    let cookie = format!("theme=dark; session={a}");
    let mut req = parts(
        &format!("/p?x=1&access_token={a}"),
        &[
            ("authorization", &ba),
            ("authorization", &ba),
            ("cookie", &cookie),
        ],
    );
    assert!(matches!(
        run(&j, &mut req).await,
        AuthOutcome::Authenticated(_)
    ));
    assert!(req.headers.get("authorization").is_none());
    assert_eq!(req.headers["cookie"], "theme=dark");
    assert_eq!(req.uri.to_string(), "/p?x=1");
}
