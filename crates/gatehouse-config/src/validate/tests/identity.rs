//! Identity: `identity`, `consumer_groups`, `consumers`, `routes[].auth`, client certificates and
//! the identity plugins — the model they produce and one test per error kind.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, Method};

use super::{BASE, errors, load_env, ok, one_error};
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
