use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn strips_owned_headers_in_any_case_and_underscore_spelling() {
    let ids = IdentityHeaders::new(&IdentitySettings::default());
    let mut h = headers(&[
        ("X-User-ID", "admin"),
        ("x_user_id", "admin"),
        ("X_Consumer_Id", "acme"),
        ("x-tenant-id", "other"),
        ("x-user-roles", "admin"),
        ("x-consumer-plan", "enterprise"),
        ("x-client-cert-identity", "spiffe://evil"),
        ("x_other_header", "kept"),
        ("accept", "kept"),
    ]);
    ids.strip(&mut h);
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h.contains_key("x_other_header"));
    assert!(h.contains_key("accept"));
}

#[test]
fn applies_identity_and_claim_headers() {
    let mut settings = IdentitySettings::default();
    settings
        .claim_headers
        .push(("email".into(), HeaderName::from_static("x-user-email")));
    settings
        .claim_headers
        .push(("org.id".into(), HeaderName::from_static("x-org")));
    let ids = IdentityHeaders::new(&settings);
    let identity = Identity {
        method: "jwt",
        consumer_id: Some("acme".into()),
        tenant: Some("acme-corp".into()),
        plan: Some("pro".into()),
        roles: vec!["orders.read".into(), "orders.write".into()],
        subject: Some("user-1".into()),
        claims: Some(serde_json::json!({"email": "a@b.c", "org": {"id": 7}})),
        client_cert: None,
        anonymous: false,
    };
    let mut h = HeaderMap::new();
    ids.apply(&identity, &mut h);
    assert_eq!(h["x-user-id"], "user-1");
    assert_eq!(h["x-consumer-id"], "acme");
    assert_eq!(h["x-tenant-id"], "acme-corp");
    assert_eq!(h["x-consumer-plan"], "pro");
    assert_eq!(h["x-user-roles"], "orders.read,orders.write");
    assert_eq!(h["x-user-email"], "a@b.c");
    assert_eq!(h["x-org"], "7");
    assert!(!h.contains_key("x-client-cert-identity"));
}

#[test]
fn default_names_stay_owned_when_renamed() {
    let settings = IdentitySettings {
        user_id_header: HeaderName::from_static("x-auth-user"),
        ..IdentitySettings::default()
    };
    let ids = IdentityHeaders::new(&settings);
    let mut h = headers(&[
        ("x-auth-user", "evil"),
        ("x-user-id", "evil"),
        ("x_auth_user", "evil"),
    ]);
    ids.strip(&mut h);
    assert!(h.is_empty(), "{h:?}");
}
