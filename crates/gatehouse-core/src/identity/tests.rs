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
    let ids = IdentityHeaders::new(&IdentitySettings::default(), MethodOverride::Strip);
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
    let ids = IdentityHeaders::new(&settings, MethodOverride::Strip);
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
    let ids = IdentityHeaders::new(&settings, MethodOverride::Strip);
    let mut h = headers(&[
        ("x-auth-user", "evil"),
        ("x-user-id", "evil"),
        ("x_auth_user", "evil"),
    ]);
    ids.strip(&mut h);
    assert!(h.is_empty(), "{h:?}");
}

#[test]
fn strips_other_gateways_identity_headers_and_method_overrides() {
    let ids = IdentityHeaders::new(&IdentitySettings::default(), MethodOverride::Strip);
    let mut h = headers(&[
        ("X-Consumer-Username", "evil"),
        ("x_consumer_custom_id", "evil"),
        ("X-Authenticated-Userid", "evil"),
        ("X-Auth-Request-Email", "evil"),
        ("x_auth_request_preferred_username", "evil"),
        ("X-Forwarded-User", "evil"),
        ("X-Remote-User", "evil"),
        ("Remote-User", "evil"),
        ("X-MS-CLIENT-PRINCIPAL", "evil"),
        ("X-MS-CLIENT-PRINCIPAL-NAME", "evil"),
        ("x_ms_client_principal_id", "evil"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("x_http_method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        // Kept: not identity headers.
        ("X-Forwarded-For", "10.0.0.1"),
        ("X-Forwarded-Prefix", "/p"),
        ("X-Users", "kept"),
        ("X-Auth-Requested", "kept"),
        ("accept", "kept"),
    ]);
    ids.strip(&mut h);
    let mut kept: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    kept.sort_unstable();
    assert_eq!(
        kept,
        [
            "accept",
            "x-auth-requested",
            "x-forwarded-for",
            "x-forwarded-prefix",
            "x-users"
        ]
    );
}

#[test]
fn configured_lists_replace_the_default_family() {
    let settings = IdentitySettings {
        strip_headers: vec![HeaderName::from_static("x-legacy-user")],
        strip_prefixes: vec!["x-sso-".into()],
        ..IdentitySettings::default()
    };
    let ids = IdentityHeaders::new(&settings, MethodOverride::Strip);
    let mut h = headers(&[
        ("x_legacy_user", "evil"),
        ("X-SSO-Email", "evil"),
        ("x_sso_user", "evil"),
        ("X-User-ID", "evil"),
        ("X-Consumer-Username", "kept"),
        ("X-Sso", "kept"),
    ]);
    ids.strip(&mut h);
    let mut kept: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    kept.sort_unstable();
    assert_eq!(kept, ["x-consumer-username", "x-sso"]);
}

fn post(pairs: &[(&str, &str)]) -> http::request::Parts {
    let mut req = http::Request::post("/x").body(()).unwrap();
    *req.headers_mut() = headers(pairs);
    req.into_parts().0
}

#[test]
fn honored_overrides_change_only_a_post_to_a_known_method() {
    let honor = IdentityHeaders::new(&IdentitySettings::default(), MethodOverride::Honor);
    let strip = IdentityHeaders::new(&IdentitySettings::default(), MethodOverride::Strip);
    let mut p = post(&[("x-http-method-override", "delete")]);
    strip.override_method(&mut p).unwrap();
    assert_eq!(p.method, Method::POST);
    honor.override_method(&mut p).unwrap();
    assert_eq!(p.method, Method::DELETE);
    honor.strip(&mut p.headers);
    assert!(p.headers.is_empty());

    let mut p = post(&[("x-method-override", "PATCH"), ("x-http-method", " patch ")]);
    honor.override_method(&mut p).unwrap();
    assert_eq!(p.method, Method::PATCH);

    // `_` spellings are stripped, never honored.
    let mut p = post(&[("x_http_method_override", "DELETE")]);
    honor.override_method(&mut p).unwrap();
    assert_eq!(p.method, Method::POST);

    // Only a POST.
    let mut p = post(&[("x-http-method-override", "DELETE")]);
    p.method = Method::GET;
    honor.override_method(&mut p).unwrap();
    assert_eq!(p.method, Method::GET);

    for bad in [
        vec![("x-http-method-override", "CONNECT")],
        vec![("x-http-method-override", "TRACE")],
        vec![("x-http-method-override", "PURGE")],
        vec![("x-http-method-override", "")],
        vec![
            ("x-http-method-override", "DELETE"),
            ("x-method-override", "PUT"),
        ],
        vec![("x-http-method", "GET"), ("x-http-method", "DELETE")],
    ] {
        let mut p = post(&bad);
        assert!(honor.override_method(&mut p).is_err(), "{bad:?}");
        assert_eq!(p.method, Method::POST, "{bad:?}");
    }
}
