//! Identity: `identity`, `consumer_groups`, `consumers`, `routes[].auth`, client certificates and
//! the identity plugins — the model they produce and one test per error kind.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, Method};

use super::{BASE, errors, load_env, ok, one_error};
use crate::Config;
use crate::model::*;

/// `BASE` has 6 lines; text appended to it starts on line 7.
fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

fn hn(s: &'static str) -> HeaderName {
    HeaderName::from_static(s)
}

const HASH_A: &str = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
const HASH_B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

#[test]
fn consumers_groups_identity_and_route_auth() {
    let text = with_base(&format!(
        r#"identity: {{ user_id_header: x-uid, roles_header: x-roles, consumer_id_header: x-cid, tenant_id_header: x-tid, plan_header: x-plan, client_cert_header: x-cert, claim_headers: {{ email: x-user-email, "org.id": x-org-id }} }}
consumer_groups:
  - {{ name: partners, plan: pro, roles: [orders.read, shared] }}
  - {{ name: staff, roles: [admin, shared] }}
  - {{ name: free, plan: free }}
consumers:
  - id: acme
    tenant: acme-corp
    groups: [free, partners, staff]
    roles: [orders.write, shared]
    api_keys: [{{ sha256: "{HASH_A}" }}]
    certificates: [{{ cn: acme-client }}, {{ dns: Client.Acme.test }}, {{ uri: "spiffe://acme.test/ns/a/sa/b" }}]
    jwt_subjects: [user-1]
    metadata: {{ tier: gold, level: 3 }}
  - {{ id: bob, plan: enterprise, groups: [partners] }}
  - {{ id: anon }}
routes:
  - name: public
    upstream: users
    auth: {{ anonymous: anon }}
  - name: strict
    upstream: users
    auth: {{ mode: all_of }}
    plugins:
      - key_auth: {{}}
      - rbac: {{ any_of: [orders.read] }}
"#
    ));
    let c = ok(&text);
    assert_eq!(
        c.identity,
        IdentitySettings {
            user_id_header: hn("x-uid"),
            roles_header: hn("x-roles"),
            consumer_id_header: hn("x-cid"),
            tenant_id_header: hn("x-tid"),
            plan_header: hn("x-plan"),
            client_cert_header: hn("x-cert"),
            claim_headers: vec![
                ("email".into(), hn("x-user-email")),
                ("org.id".into(), hn("x-org-id"))
            ],
            ..IdentitySettings::default()
        }
    );
    assert_eq!(
        c.consumer_groups,
        vec![
            ConsumerGroup {
                name: "partners".into(),
                plan: Some("pro".into()),
                roles: vec!["orders.read".into(), "shared".into()],
            },
            ConsumerGroup {
                name: "staff".into(),
                plan: None,
                roles: vec!["admin".into(), "shared".into()],
            },
            ConsumerGroup {
                name: "free".into(),
                plan: Some("free".into()),
                roles: vec![],
            },
        ]
    );
    let [acme, bob, anon] = c.consumers.as_slice() else {
        panic!("three consumers expected: {:?}", c.consumers);
    };
    assert_eq!(
        *acme,
        Consumer {
            id: "acme".into(),
            tenant: Some("acme-corp".into()),
            // No plan of its own: the first group that has one (`free`, listed first).
            plan: Some("free".into()),
            groups: vec!["free".into(), "partners".into(), "staff".into()],
            // Own roles, then each group's, deduplicated, in order.
            roles: vec![
                "orders.write".into(),
                "shared".into(),
                "orders.read".into(),
                "admin".into()
            ],
            api_key_hashes: vec![HASH_A.to_ascii_lowercase()],
            certificates: vec![
                CertificateIdentity::CommonName("acme-client".into()),
                CertificateIdentity::DnsSan("client.acme.test".into()),
                CertificateIdentity::UriSan("spiffe://acme.test/ns/a/sa/b".into()),
            ],
            jwt_subjects: vec!["user-1".into()],
            metadata: BTreeMap::from([
                ("level".to_owned(), "3".to_owned()),
                ("tier".to_owned(), "gold".to_owned()),
            ]),
        }
    );
    // Its own plan wins over the group's.
    assert_eq!(bob.plan.as_deref(), Some("enterprise"));
    assert_eq!(bob.roles, vec!["orders.read".to_owned(), "shared".into()]);
    assert_eq!(anon.plan, None);
    assert!(anon.roles.is_empty() && anon.groups.is_empty());

    assert_eq!(
        c.routes[0].auth,
        Some(RouteAuth {
            mode: AuthMode::AnyOf,
            anonymous: Some("anon".into()),
        })
    );
    assert_eq!(
        c.routes[1].auth,
        Some(RouteAuth {
            mode: AuthMode::AllOf,
            anonymous: None,
        })
    );
    assert_eq!(
        c.routes[1].plugins[0].config,
        PluginConfig::KeyAuth(KeyAuthConfig {
            header: hn("x-api-key"),
            authorization_scheme: true,
            query_param: None,
            keep_credential: false,
            redis: None,
        })
    );
    assert_eq!(
        c.routes[1].plugins[1].config,
        PluginConfig::Rbac(RbacConfig {
            default: RoleRule {
                any_of: vec!["orders.read".into()],
                all_of: vec![],
            },
            methods: vec![],
        })
    );
}

#[test]
fn defaults_without_identity_sections() {
    let c = ok(BASE);
    assert_eq!(c.identity, IdentitySettings::default());
    assert!(c.consumers.is_empty() && c.consumer_groups.is_empty());
}

#[test]
fn key_auth_and_rbac_settings() {
    let c = ok(&with_base(
        r#"plugins:
  - key_auth: { header: X-Key, authorization_scheme: false, query_param: api_key, keep_credential: true, redis: { url: "redis://127.0.0.1:6379/2", prefix: "k:", timeout: 20ms, cache_ttl: 1m, negative_ttl: 0s, cache_size: 10, on_error: deny } }
  - key_auth:
      redis: { url: "rediss://:pw@redis.internal:6380" }
  - rbac: { all_of: [a, b], methods: { post: { any_of: [w] }, DELETE: { all_of: [admin] } } }
"#,
    ));
    assert_eq!(
        c.plugins[0].config,
        PluginConfig::KeyAuth(KeyAuthConfig {
            header: hn("x-key"),
            authorization_scheme: false,
            query_param: Some("api_key".into()),
            keep_credential: true,
            redis: Some(RedisKeySource {
                url: "redis://127.0.0.1:6379/2".into(),
                prefix: "k:".into(),
                timeout: Duration::from_millis(20),
                cache_ttl: Duration::from_secs(60),
                negative_ttl: Duration::ZERO,
                cache_size: 10,
                on_error: RedisFailure::Deny,
            }),
        })
    );
    let PluginConfig::KeyAuth(k) = &c.plugins[1].config else {
        panic!("{:?}", c.plugins[1]);
    };
    assert_eq!(
        k.redis,
        Some(RedisKeySource {
            url: "rediss://:pw@redis.internal:6380".into(),
            prefix: "apikey:".into(),
            timeout: Duration::from_millis(50),
            cache_ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(5),
            cache_size: 100_000,
            on_error: RedisFailure::ServeFromCache,
        })
    );
    assert_eq!(
        c.plugins[2].config,
        PluginConfig::Rbac(RbacConfig {
            default: RoleRule {
                any_of: vec![],
                all_of: vec!["a".into(), "b".into()],
            },
            methods: vec![
                (
                    Method::POST,
                    RoleRule {
                        any_of: vec!["w".into()],
                        all_of: vec![]
                    }
                ),
                (
                    Method::DELETE,
                    RoleRule {
                        any_of: vec![],
                        all_of: vec!["admin".into()]
                    }
                ),
            ],
        })
    );
}

#[test]
fn mtls_settings() {
    let c = ok(&with_base(
        "plugins:\n  - mtls: {}\n  - mtls: { match_on: [common_name, dns_san], require_consumer: true }\n",
    ));
    assert_eq!(
        c.plugins[0].config,
        PluginConfig::Mtls(MtlsConfig {
            match_on: vec![
                CertificateField::UriSan,
                CertificateField::DnsSan,
                CertificateField::CommonName
            ],
            require_consumer: false,
        })
    );
    assert_eq!(
        c.plugins[1].config,
        PluginConfig::Mtls(MtlsConfig {
            match_on: vec![CertificateField::CommonName, CertificateField::DnsSan],
            require_consumer: true,
        })
    );
    let d = one_error(
        &with_base("plugins:\n  - mtls: { match_on: [common_nme] }\n"),
        8,
        24,
        "plugins[0].mtls.match_on[0]",
    );
    assert_eq!(d.message, "unknown value `common_nme`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `common_name`?"));
}

#[test]
fn duplicate_consumer_id_and_group_name() {
    let text = with_base(
        "consumer_groups:\n  - { name: g }\n  - { name: g }\nconsumers:\n  - { id: a }\n  - { id: a }\n",
    );
    let diags = errors(&text);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    let g = &diags[0];
    assert_eq!(
        (g.line, g.column, g.path.as_str()),
        (9, 13, "consumer_groups[1].name")
    );
    assert_eq!(
        g.message,
        "duplicate consumer group `g` (first defined at /etc/gatehouse/gatehouse.yaml:8:13)"
    );
    let c = &diags[1];
    assert_eq!(
        (c.line, c.column, c.path.as_str()),
        (12, 11, "consumers[1].id")
    );
    assert!(c.message.starts_with("duplicate consumer id `a`"), "{c}");
}

#[test]
fn unknown_group_suggests_a_name() {
    let d = one_error(
        &with_base(
            "consumer_groups: [{ name: partners }]\nconsumers:\n  - { id: a, groups: [partner] }\n",
        ),
        9,
        23,
        "consumers[0].groups[0]",
    );
    assert_eq!(d.message, "unknown consumer group `partner`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `partners`?"));
}

#[test]
fn groups_and_consumers_merge_across_files() {
    let env = super::MapEnv(Default::default());
    let c = crate::load_texts(
        &[
            (
                "/etc/gatehouse/a.yaml".into(),
                format!("{BASE}consumers: [{{ id: a, groups: [g] }}]\nroutes: [{{ name: r, upstream: users, auth: {{ anonymous: b }} }}]\n"),
            ),
            (
                "/etc/gatehouse/b.yaml".into(),
                "consumer_groups: [{ name: g, plan: gold, roles: [x] }]\nconsumers: [{ id: b }]\n".into(),
            ),
        ],
        &env,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.consumers[0].plan.as_deref(), Some("gold"));
    assert_eq!(c.consumers[0].roles, vec!["x".to_owned()]);
    assert_eq!(c.consumers.len(), 2);
}

#[test]
fn api_key_hash_must_be_64_hex() {
    let d = one_error(
        &with_base("consumers:\n  - { id: a, api_keys: [{ sha256: abc }] }\n"),
        8,
        35,
        "consumers[0].api_keys[0].sha256",
    );
    assert_eq!(
        d.message,
        "`sha256` must be 64 hexadecimal characters, found 3 characters"
    );
    let bad = "z".repeat(64);
    let d = one_error(
        &with_base(&format!(
            "consumers:\n  - {{ id: a, api_keys: [{{ sha256: {bad} }}] }}\n"
        )),
        8,
        35,
        "consumers[0].api_keys[0].sha256",
    );
    assert!(d.message.contains("64 hexadecimal"), "{d}");
}

#[test]
fn api_key_in_clear_is_refused_without_echo() {
    let d = one_error(
        &with_base("consumers:\n  - { id: a, api_keys: [{ key: hunter2 }] }\n"),
        8,
        27,
        "consumers[0].api_keys[0]",
    );
    assert_eq!(
        d.message,
        "API keys are stored as SHA-256 hashes, never in clear"
    );
    assert!(!d.to_string().contains("hunter2"), "{d}");
}

#[test]
fn duplicate_key_hash_across_consumers_names_both() {
    let text = with_base(&format!(
        "consumers:\n  - {{ id: a, api_keys: [{{ sha256: \"{HASH_A}\" }}, {{ sha256: {HASH_B} }}] }}\n  - id: b\n    api_keys:\n      - sha256: \"{}\"\n",
        HASH_A.to_ascii_lowercase()
    ));
    let d = one_error(&text, 11, 17, "consumers[1].api_keys[0].sha256");
    assert_eq!(
        d.message,
        "this API key hash already belongs to consumer `a` (at /etc/gatehouse/gatehouse.yaml:8:35); it cannot also belong to `b`"
    );
}

#[test]
fn duplicate_certificate_identity_across_consumers() {
    let text = with_base(
        "consumers:\n  - { id: a, certificates: [{ dns: x.test }] }\n  - { id: b, certificates: [{ dns: X.test }, { cn: x.test }] }\n",
    );
    let d = one_error(&text, 9, 36, "consumers[1].certificates[0].dns");
    assert_eq!(
        d.message,
        "certificate identity `dns: X.test` already maps to consumer `a` (at /etc/gatehouse/gatehouse.yaml:8:36)"
    );
    let d = one_error(
        &with_base("consumers:\n  - { id: a, certificates: [{ cn: a, dns: b }] }\n"),
        8,
        29,
        "consumers[0].certificates[0]",
    );
    assert!(
        d.message.contains("exactly one of `cn`, `dns`, `uri`"),
        "{d}"
    );
}

#[test]
fn route_anonymous_must_name_a_consumer() {
    let d = one_error(
        &with_base(
            "consumers: [{ id: guest }]\nroutes:\n  - { name: r, upstream: users, auth: { anonymous: guets } }\n",
        ),
        9,
        52,
        "routes[0].auth.anonymous",
    );
    assert_eq!(d.message, "unknown consumer `guets`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `guest`?"));
    let d = one_error(
        &with_base("routes:\n  - { name: r, upstream: users, auth: { mode: anyof } }\n"),
        8,
        47,
        "routes[0].auth.mode",
    );
    assert_eq!(d.message, "unknown value `anyof`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `any_of`?"));
}

#[test]
fn identity_headers_valid_distinct_not_hop_by_hop() {
    let d = one_error(
        &with_base("identity: { user_id_header: connection }\n"),
        7,
        29,
        "identity.user_id_header",
    );
    assert_eq!(d.message, "`connection` cannot carry an identity");
    let d = one_error(
        &with_base("identity: { user_id_header: X-Roles, roles_header: x-roles }\n"),
        7,
        52,
        "identity.roles_header",
    );
    assert_eq!(
        d.message,
        "header `x-roles` is already used by `identity.user_id_header`"
    );
    // A custom name equal to another key's default.
    let d = one_error(
        &with_base("identity: { claim_headers: { email: x-tenant-id } }\n"),
        7,
        37,
        "identity.claim_headers.email",
    );
    assert_eq!(
        d.message,
        "header `x-tenant-id` is the default of `identity.tenant_id_header`"
    );
    let d = one_error(
        &with_base("identity: { plan_header: \"bad header\" }\n"),
        7,
        26,
        "identity.plan_header",
    );
    assert_eq!(d.message, "invalid header name `bad header`");
    let d = one_error(
        &with_base("identity: { claim_headers: { \"a..b\": x-ab } }\n"),
        7,
        30,
        "identity.claim_headers.a..b",
    );
    assert_eq!(d.message, "invalid claim path `a..b`");
}

#[test]
fn strip_lists_replace_the_default_family() {
    let c = ok(&with_base(
        "identity: { strip_headers: [X_Legacy_User, x-legacy-user, x-sso-roles], strip_prefixes: [X-SSO_] }\n",
    ));
    assert_eq!(
        c.identity.strip_headers,
        [hn("x-legacy-user"), hn("x-sso-roles")]
    );
    assert_eq!(c.identity.strip_prefixes, ["x-sso-"]);
    let c = ok(&with_base(
        "identity: { strip_headers: [], strip_prefixes: [] }\n",
    ));
    assert!(c.identity.strip_headers.is_empty() && c.identity.strip_prefixes.is_empty());
    let d = IdentitySettings::default();
    assert!(d.strip_headers.contains(&hn("x-consumer-username")));
    assert!(d.strip_headers.contains(&hn("x-forwarded-user")));
    assert!(d.strip_prefixes.iter().any(|p| p == "x-auth-request-"));
}

#[test]
fn strip_lists_never_cover_what_the_gateway_needs() {
    let d = one_error(
        &with_base("identity: { strip_headers: [x-a, Authorization] }\n"),
        7,
        34,
        "identity.strip_headers[1]",
    );
    assert_eq!(d.message, "`authorization` cannot be stripped");
    let d = one_error(
        &with_base("identity: { strip_headers: x-a }\n"),
        7,
        28,
        "identity.strip_headers",
    );
    assert!(d.message.contains("list"), "{}", d.message);
    let d = one_error(
        &with_base("identity: { strip_prefixes: [co] }\n"),
        7,
        30,
        "identity.strip_prefixes[0]",
    );
    assert_eq!(d.message, "prefix `co` would strip `connection`");
    let d = one_error(
        &with_base("identity: { strip_prefixes: [\"x y\"] }\n"),
        7,
        30,
        "identity.strip_prefixes[0]",
    );
    assert_eq!(d.message, "`x y` is not the start of a header name");
    one_error(
        &with_base("identity: { strip_prefixes: [\"\"] }\n"),
        7,
        30,
        "identity.strip_prefixes[0]",
    );
}

#[test]
fn consumer_identity_values_must_be_forwardable() {
    let d = one_error(
        &with_base("consumers: [{ id: \"acme\\r\\nx-admin: 1\" }]\n"),
        7,
        19,
        "consumers[0].id",
    );
    assert!(d.message.contains("control characters"), "{}", d.message);
    one_error(
        &with_base("consumers: [{ id: acme, tenant: \" acme\" }]\n"),
        7,
        33,
        "consumers[0].tenant",
    );
    let d = one_error(
        &with_base("consumers: [{ id: acme, roles: [a, \"orders.read,admin\"] }]\n"),
        7,
        36,
        "consumers[0].roles[1]",
    );
    assert_eq!(
        d.message,
        "role `orders.read,admin` contains `,` or a space"
    );
    one_error(
        &with_base("consumer_groups: [{ name: g, roles: [\"a b\"] }]\n"),
        7,
        38,
        "consumer_groups[0].roles[0]",
    );
}

#[test]
fn method_override_is_strip_or_honor() {
    assert_eq!(ok(BASE).server.method_override, MethodOverride::Strip);
    let c = ok(&with_base("server: { method_override: honor }\n"));
    assert_eq!(c.server.method_override, MethodOverride::Honor);
    one_error(
        &with_base("server: { method_override: yes }\n"),
        7,
        28,
        "server.method_override",
    );
}

#[test]
fn key_auth_and_rbac_errors() {
    let d = one_error(
        &with_base("plugins:\n  - key_auth: { redis: { url: \"http://:secretpw@host\" } }\n"),
        8,
        31,
        "plugins[0].key_auth.redis.url",
    );
    assert!(!d.to_string().contains("secretpw"), "{d}");
    let d = one_error(
        &with_base("plugins:\n  - key_auth: { redis: { url: \"redis://h\", on_error: serve } }\n"),
        8,
        54,
        "plugins[0].key_auth.redis.on_error",
    );
    assert_eq!(d.message, "unknown value `serve`");
    let d = one_error(
        &with_base("plugins:\n  - rbac: {}\n"),
        8,
        11,
        "plugins[0].rbac",
    );
    assert!(d.message.contains("would allow every request"), "{d}");
    let d = one_error(
        &with_base(
            "plugins:\n  - rbac: { methods: { GET: { any_of: [a] }, get: { any_of: [b] } } }\n",
        ),
        8,
        46,
        "plugins[0].rbac.methods.get",
    );
    assert_eq!(d.message, "method `GET` has two rules");
}

#[test]
fn literal_secret_values_are_never_echoed() {
    // Through `${...}` the crate already hides values; a literal `secret` key is hidden too.
    let r = load_env(&with_base("admin: { token: x }\n"), &[]);
    assert!(r.is_ok());
}

const JWT: &str = r#"plugins:
  - jwt:
      issuers:
        - issuer: "https://idp.test/"
          audiences: [api, web]
          algorithms: [RS256, ES256]
          keys: { jwks_url: "https://idp.test/jwks.json", min_refresh: 2m, max_refresh: 2h, unknown_kid_interval: 10s, timeout: 1s }
          require_exp: false
          required_claims: [sub]
          claim_values: { tenant: acme }
        - { issuer: other, audiences: api, algorithms: [EdDSA], keys: { discovery: "http://idp2.test/.well-known/openid-configuration" } }
        - { issuer: inline, algorithms: [PS256], keys: { inline: ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", '{"kty":"OKP"}'] } }
        - { issuer: hmac, algorithms: [HS256, HS512], keys: { secret: "${JWT_SECRET}" } }
      sources: [bearer, { cookie: session }, { query: access_token }]
      leeway: 10s
      max_token_bytes: 4KiB
      keep_credential: true
      roles_claim: realm_access.roles
  - jwt: { issuers: [{ issuer: x, algorithms: RS256, keys: { jwks_url: "https://x.test/k" } }], roles_claim: false }
  - oauth2_introspection: { endpoint: "https://idp.test/introspect", client_id: gw, client_secret: "${SECRET}", timeout: 1s, cache_ttl: 30s, negative_ttl: 1s, on_error: anonymous, keep_credential: true }
  - oauth2_introspection: { endpoint: "https://idp.test/introspect", client_id: gw, client_secret: literal }
"#;

#[test]
fn jwt_and_introspection_settings() {
    let text = with_base(JWT);
    let c = load_env(&text, &[("JWT_SECRET", "k3y"), ("SECRET", "s3")])
        .unwrap_or_else(|e| panic!("{e}"));
    let PluginConfig::Jwt(j) = &c.plugins[0].config else {
        panic!("{:?}", c.plugins[0]);
    };
    assert_eq!(
        j.issuers[0],
        JwtIssuer {
            issuer: "https://idp.test/".into(),
            audiences: vec!["api".into(), "web".into()],
            algorithms: vec!["RS256".into(), "ES256".into()],
            keys: JwtKeys::Jwks(JwksSource {
                url: "https://idp.test/jwks.json".into(),
                min_refresh: Duration::from_secs(120),
                max_refresh: Duration::from_secs(7200),
                unknown_kid_interval: Duration::from_secs(10),
                timeout: Duration::from_secs(1),
            }),
            require_exp: false,
            required_claims: vec!["sub".into()],
            claim_values: vec![("tenant".into(), "acme".into())],
        }
    );
    assert_eq!(j.issuers[1].audiences, vec!["api".to_owned()]);
    assert_eq!(
        j.issuers[1].keys,
        JwtKeys::Discovery(JwksSource {
            url: "http://idp2.test/.well-known/openid-configuration".into(),
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(3600),
            unknown_kid_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        })
    );
    assert!(j.issuers[1].require_exp);
    assert!(matches!(&j.issuers[2].keys, JwtKeys::Inline(k) if k.len() == 2));
    assert_eq!(j.issuers[3].keys, JwtKeys::Secret("k3y".into()));
    assert_eq!(
        j.sources,
        vec![
            TokenSource::Bearer,
            TokenSource::Cookie("session".into()),
            TokenSource::Query("access_token".into())
        ]
    );
    assert_eq!(j.leeway, Duration::from_secs(10));
    assert_eq!(j.max_token_bytes, 4096);
    assert!(j.keep_credential);
    assert_eq!(j.roles_claim.as_deref(), Some("realm_access.roles"));
    let PluginConfig::Jwt(j) = &c.plugins[1].config else {
        panic!("{:?}", c.plugins[1]);
    };
    assert_eq!(j.issuers[0].algorithms, vec!["RS256".to_owned()]);
    assert_eq!(j.sources, vec![TokenSource::Bearer]);
    assert_eq!(j.leeway, Duration::from_secs(30));
    assert_eq!(j.max_token_bytes, 8192);
    assert!(!j.keep_credential);
    assert_eq!(j.roles_claim, None);
    assert_eq!(
        c.plugins[2].config,
        PluginConfig::Introspection(IntrospectionConfig {
            endpoint: "https://idp.test/introspect".into(),
            client_id: "gw".into(),
            client_secret: "s3".into(),
            timeout: Duration::from_secs(1),
            cache_ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(1),
            on_error: IntrospectionFailure::Anonymous,
            keep_credential: true,
        })
    );
    let PluginConfig::Introspection(i) = &c.plugins[3].config else {
        panic!("{:?}", c.plugins[3]);
    };
    assert_eq!(
        (
            i.timeout,
            i.cache_ttl,
            i.negative_ttl,
            i.on_error,
            i.keep_credential
        ),
        (
            Duration::from_secs(2),
            Duration::from_secs(60),
            Duration::from_secs(5),
            IntrospectionFailure::Deny,
            false
        )
    );
}

/// A jwt plugin with one issuer whose line 10 (after `BASE`) is `issuer_line`.
fn jwt_issuer(issuer_line: &str) -> String {
    with_base(&format!(
        "plugins:\n  - jwt:\n      issuers:\n        - {issuer_line}\n"
    ))
}

#[test]
fn jwt_alg_none_is_refused() {
    let d = one_error(
        &jwt_issuer("{ issuer: a, algorithms: [none], keys: { jwks_url: \"https://a.test/k\" } }"),
        10,
        37,
        "plugins[0].jwt.issuers[0].algorithms[0]",
    );
    assert_eq!(
        d.message,
        "`none` is never accepted: unsigned tokens would be trusted"
    );
    let d = one_error(
        &jwt_issuer("{ issuer: a, algorithms: [RS265], keys: { jwks_url: \"https://a.test/k\" } }"),
        10,
        37,
        "plugins[0].jwt.issuers[0].algorithms[0]",
    );
    assert_eq!(d.message, "unknown JWT algorithm `RS265`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `RS256`?"));
}

#[test]
fn jwt_hs256_with_jwks_url_is_refused() {
    let d = one_error(
        &jwt_issuer(
            "{ issuer: a, algorithms: [RS256, HS256], keys: { jwks_url: \"https://a.test/k\" } }",
        ),
        10,
        44,
        "plugins[0].jwt.issuers[0].algorithms[1]",
    );
    assert_eq!(
        d.message,
        "`HS256` is only allowed with `keys: { secret: ... }`"
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap_or_default()
            .contains("algorithm confusion")
    );
}

#[test]
fn jwt_rs256_with_secret_is_refused_and_secret_not_echoed() {
    let d = one_error(
        &jwt_issuer("{ issuer: a, algorithms: [HS256, RS256], keys: { secret: topsecretvalue } }"),
        10,
        44,
        "plugins[0].jwt.issuers[0].algorithms[1]",
    );
    assert_eq!(
        d.message,
        "`RS256` cannot be verified with `keys: { secret: ... }`"
    );
    assert!(!d.to_string().contains("topsecretvalue"));
}

#[test]
fn jwt_key_source_errors() {
    let d = one_error(
        &jwt_issuer(
            "{ issuer: a, algorithms: [RS256], keys: { jwks_url: \"https://a.test/k\", inline: [x] } }",
        ),
        10,
        51,
        "plugins[0].jwt.issuers[0].keys",
    );
    assert!(d.message.contains("exactly one of `jwks_url`"), "{d}");
    let d = one_error(
        &jwt_issuer("{ issuer: a, algorithms: [RS256], keys: { jwks_url: \"ftp://a.test/k\" } }"),
        10,
        63,
        "plugins[0].jwt.issuers[0].keys.jwks_url",
    );
    assert_eq!(d.message, "invalid URL `ftp://a.test/k`");
    let d = one_error(
        &jwt_issuer(
            "{ issuer: a, algorithms: [RS256], keys: { discovery: \"https://a.test/\", min_refresh: 2h } }",
        ),
        10,
        96,
        "plugins[0].jwt.issuers[0].keys.min_refresh",
    );
    assert!(d.message.contains("greater than `max_refresh`"), "{d}");
    let d = one_error(
        &jwt_issuer("{ issuer: \"\", algorithms: [HS256], keys: { secret: s } }"),
        10,
        21,
        "plugins[0].jwt.issuers[0].issuer",
    );
    assert_eq!(d.message, "must not be empty");
    let diags = errors(&jwt_issuer(
        "{ issuer: a, algorithms: [HS256], keys: { secret: s, timeout: 1s } }",
    ));
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].path, "plugins[0].jwt.issuers[0].keys.timeout");
}

#[test]
fn jwt_plugin_level_errors() {
    let d = one_error(
        &with_base("plugins:\n  - jwt: { issuers: [] }\n"),
        8,
        21,
        "plugins[0].jwt.issuers",
    );
    assert_eq!(d.message, "at least one issuer is required");
    let d = one_error(
        &with_base(
            "plugins:\n  - jwt: { issuers: [{ issuer: a, algorithms: [ES256], keys: { inline: ['{}'] } }], max_token_bytes: 100 }\n",
        ),
        8,
        102,
        "plugins[0].jwt.max_token_bytes",
    );
    assert_eq!(
        d.message,
        "`max_token_bytes` must be at least 256, found 100"
    );
    let d = one_error(
        &with_base(
            "plugins:\n  - jwt: { issuers: [{ issuer: a, algorithms: [ES256], keys: { inline: ['{}'] } }], sources: [header] }\n",
        ),
        8,
        95,
        "plugins[0].jwt.sources[0]",
    );
    assert_eq!(d.message, "unknown token source `header`");
}

#[test]
fn secrets_are_never_echoed() {
    // Interpolated and literal secrets alike: an invalid value is reported without the value.
    let text = with_base(
        "plugins:\n  - oauth2_introspection: { endpoint: \"https://a.test/i\", client_id: gw, client_secret: [\"s3cr3t-literal\"] }\n",
    );
    let d = one_error(
        &text,
        8,
        89,
        "plugins[0].oauth2_introspection.client_secret",
    );
    assert!(!d.to_string().contains("s3cr3t"), "{d}");
    let d = one_error(
        &with_base(
            "plugins:\n  - oauth2_introspection: { endpoint: \"https://a.test/i\", client_id: gw, client_secret: x, on_error: allow }\n",
        ),
        8,
        102,
        "plugins[0].oauth2_introspection.on_error",
    );
    assert_eq!(d.message, "unknown value `allow`");
    let diags = errors(&with_base(
        "plugins:\n  - oauth2_introspection: { endpoint: \"https://a.test/i\", client_id: gw, client_secret: \"\" }\n",
    ));
    assert!(diags[0].message.starts_with("the secret must not be empty"));
}

/// Writes `files` under a fresh directory and loads `text` as `gatehouse.yaml` there.
fn in_dir(text: &str, files: &[&str]) -> (tempfile::TempDir, Result<Config, crate::ConfigError>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for f in files {
        let path = dir.path().join(f);
        std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, "package gatehouse\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let env = super::MapEnv(Default::default());
    let file = dir.path().join("gatehouse.yaml");
    let result = crate::load_texts(&[(file, text.to_owned())], &env);
    (dir, result)
}

const TLS_LISTENER: &str = "listeners:
  - name: public
    address: 127.0.0.1:8443
    tls:
      certificates: [{ cert: a.pem, key: a.key }]
";

#[test]
fn client_certificates_and_opa_settings() {
    let text = format!(
        "{TLS_LISTENER}      client_certificates: {{ ca: [ca/one.pem, two.pem], mode: request, on_invalid: unauthorized }}
  - name: other
    address: 127.0.0.1:8444
    tls:
      certificates: [{{ cert: a.pem, key: a.key }}]
      client_certificates: {{ ca: ca/one.pem }}
upstreams: {{ u: {{ targets: [10.0.0.1:80] }} }}
plugins:
  - opa: {{ policies: [policies/authz.rego], query: data.gatehouse.decision, headers: [X-Env] }}
  - opa: {{ external: {{ url: \"http://127.0.0.1:8181/v1/data/gatehouse/allow\" }} }}
"
    );
    let (dir, result) = in_dir(&text, &["ca/one.pem", "two.pem", "policies/authz.rego"]);
    let c = result.unwrap_or_else(|e| panic!("{e}"));
    let tls = |i: usize| {
        c.listeners[i]
            .tls
            .as_ref()
            .and_then(|t| t.client_certificates.clone())
    };
    assert_eq!(
        tls(0),
        Some(ClientCertificates {
            ca: vec![dir.path().join("ca/one.pem"), dir.path().join("two.pem")],
            mode: ClientCertMode::Request,
            on_invalid: InvalidCertAction::Unauthorized,
        })
    );
    assert_eq!(
        tls(1),
        Some(ClientCertificates {
            ca: vec![dir.path().join("ca/one.pem")],
            mode: ClientCertMode::Require,
            on_invalid: InvalidCertAction::FailHandshake,
        })
    );
    assert_eq!(
        c.plugins[0].config,
        PluginConfig::Opa(OpaConfig {
            policies: vec![dir.path().join("policies/authz.rego")],
            query: "data.gatehouse.decision".into(),
            headers: vec![hn("x-env")],
            external: None,
        })
    );
    assert_eq!(
        c.plugins[1].config,
        PluginConfig::Opa(OpaConfig {
            policies: vec![],
            query: "data.gatehouse.allow".into(),
            headers: vec![],
            external: Some(ExternalOpa {
                url: "http://127.0.0.1:8181/v1/data/gatehouse/allow".into(),
                timeout: Duration::from_millis(100),
            }),
        })
    );
}

#[test]
fn missing_ca_and_policy_files_and_bad_enums() {
    let text = format!(
        "{TLS_LISTENER}      client_certificates: {{ ca: missing-ca.pem, mode: requre }}
upstreams: {{ u: {{ targets: [10.0.0.1:80] }} }}
plugins:
  - opa: {{ policies: [policies/missing.rego], query: gatehouse.allow }}
"
    );
    let (_dir, result) = in_dir(&text, &[]);
    let diags = result.err().map(|e| e.diagnostics).unwrap_or_default();
    let at = |path: &str| {
        diags
            .iter()
            .find(|d| d.path == path)
            .unwrap_or_else(|| panic!("no {path} in {diags:#?}"))
    };
    assert_eq!(diags.len(), 4, "{diags:#?}");
    let ca = at("listeners[0].tls.client_certificates.ca");
    assert_eq!((ca.line, ca.column), (6, 34));
    assert!(
        ca.message
            .starts_with("CA file `missing-ca.pem` does not exist"),
        "{ca}"
    );
    let mode = at("listeners[0].tls.client_certificates.mode");
    assert_eq!((mode.line, mode.column), (6, 56));
    assert_eq!(mode.hint.as_deref(), Some("did you mean `require`?"));
    let policy = at("plugins[0].opa.policies[0]");
    assert_eq!((policy.line, policy.column), (9, 23));
    assert!(
        policy
            .message
            .starts_with("policy file `policies/missing.rego` does not exist"),
        "{policy}"
    );
    let query = at("plugins[0].opa.query");
    assert_eq!((query.line, query.column), (9, 54));
    assert_eq!(query.message, "invalid query `gatehouse.allow`");
}

#[test]
fn opa_needs_policies_or_external() {
    let d = one_error(
        &with_base("plugins:\n  - opa: {}\n"),
        8,
        10,
        "plugins[0].opa.policies",
    );
    assert!(d.message.contains("needs `policies`"), "{d}");
}
