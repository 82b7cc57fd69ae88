//! `store:`, `plans:`, plan references and the `rate_limit` plugin: the model they produce, their
//! defaults, and each error with its location.

use std::time::Duration;

use http::HeaderName;

use super::{BASE, errors, ok, one_error};
use crate::model::*;

/// `BASE` has 6 lines; text appended to it starts on line 7.
fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

fn lim(requests: u64, per: Duration) -> Limit {
    Limit {
        requests,
        per,
        algorithm: Algorithm::SlidingWindow,
        burst: None,
    }
}

/// The global `rate_limit` settings of `config`.
fn rate_limit(config: &Config) -> &RateLimitConfig {
    match config.plugins.first().map(|p| &p.config) {
        Some(PluginConfig::RateLimit(c)) => c,
        other => panic!("expected a rate_limit plugin, got {other:?}"),
    }
}

const FULL: &str = r#"store:
  redis: { url: "rediss://:pw@redis.internal:6380/2", timeout: 50ms, connections: 4, on_failure: fail_closed, retry_after: 5s }
plans:
  free: { limits: [{ requests: 100, per: 1m }] }
  pro:
    limits: [{ requests: 10, per: 1s, algorithm: token_bucket, burst: 20 }, { requests: 1000, per: 1m }]
    quota: { requests: 1000000, per: month, scope: tenant }
  daily: { quota: { requests: 5, per: rolling_day } }
  enterprise: {}
  unlimited:
consumer_groups:
  - { name: partners, plan: pro }
consumers:
  - { id: acme, groups: [partners] }
  - { id: bob, plan: enterprise }
plugins:
  - rate_limit:
      limits: [{ requests: 10, per: 1s, algorithm: token_bucket, burst: 20 }, { requests: 100000, per: 24h, algorithm: sliding_window }]
      key: [consumer, api_key, user, tenant, client_ip, route, "header:X-Foo", "param:id", "literal:all"]
      backend: memory
      headers: { draft: false, structured: true, x_ratelimit: true }
      max_keys: 7
"#;

#[test]
fn full_parse() {
    let c = ok(&with_base(FULL));
    assert_eq!(
        c.store,
        StoreConfig {
            redis: Some(RedisStore {
                url: "rediss://:pw@redis.internal:6380/2".into(),
                timeout: Duration::from_millis(50),
                connections: 4,
                on_failure: StoreFailure::FailClosed,
                retry_after: Duration::from_secs(5),
            })
        }
    );
    let bucket = Limit {
        requests: 10,
        per: Duration::from_secs(1),
        algorithm: Algorithm::TokenBucket,
        burst: Some(20),
    };
    assert_eq!(
        c.plans,
        vec![
            Plan {
                name: "free".into(),
                limits: vec![lim(100, Duration::from_secs(60))],
                quota: None,
            },
            Plan {
                name: "pro".into(),
                limits: vec![bucket.clone(), lim(1000, Duration::from_secs(60))],
                quota: Some(Quota {
                    requests: 1_000_000,
                    period: QuotaPeriod::Month,
                    scope: QuotaScope::Tenant,
                }),
            },
            Plan {
                name: "daily".into(),
                limits: vec![],
                quota: Some(Quota {
                    requests: 5,
                    period: QuotaPeriod::RollingDay,
                    scope: QuotaScope::Consumer,
                }),
            },
            Plan {
                name: "enterprise".into(),
                limits: vec![],
                quota: None,
            },
            Plan {
                name: "unlimited".into(),
                limits: vec![],
                quota: None,
            },
        ]
    );
    assert_eq!(c.consumers[0].plan.as_deref(), Some("pro"));
    assert_eq!(c.consumers[1].plan.as_deref(), Some("enterprise"));
    assert_eq!(
        rate_limit(&c),
        &RateLimitConfig {
            limits: LimitSource::Fixed(vec![bucket, lim(100_000, Duration::from_secs(86_400))]),
            key: vec![
                KeyPart::Consumer,
                KeyPart::ApiKey,
                KeyPart::User,
                KeyPart::Tenant,
                KeyPart::ClientIp,
                KeyPart::Route,
                KeyPart::Header(HeaderName::from_static("x-foo")),
                KeyPart::PathParam("id".into()),
                KeyPart::Literal("all".into()),
            ],
            backend: Backend::Memory,
            headers: RateLimitHeaders {
                draft: false,
                structured: true,
                x_ratelimit: true,
            },
            max_keys: 7,
            approximate: None,
        }
    );
}

#[test]
fn plans_as_a_list() {
    let c = ok(&with_base(
        "plans:\n  - { name: free, limits: [{ requests: 1, per: 1s }] }\n  - name: gold\n",
    ));
    let names: Vec<&str> = c.plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["free", "gold"]);
    assert_eq!(c.plans[0].limits, vec![lim(1, Duration::from_secs(1))]);
}

#[test]
fn defaults() {
    let c = ok(&with_base(
        "store: { redis: { url: \"redis://127.0.0.1:6379\" } }\nplugins:\n  - rate_limit: { limits: [{ requests: 5, per: 1m }] }\n",
    ));
    assert_eq!(
        c.store.redis,
        Some(RedisStore {
            url: "redis://127.0.0.1:6379".into(),
            timeout: Duration::from_millis(20),
            connections: 2,
            on_failure: StoreFailure::Local,
            retry_after: Duration::from_secs(1),
        })
    );
    assert!(c.plans.is_empty());
    let r = rate_limit(&c);
    assert_eq!(r.key, vec![KeyPart::Consumer]);
    // Redis when `store.redis` is set ...
    assert_eq!(r.backend, Backend::Redis);
    assert_eq!(r.headers, RateLimitHeaders::default());
    assert_eq!(r.max_keys, 100_000);
    // ... memory otherwise.
    let c = ok(&with_base(
        "plugins:\n  - rate_limit: { limits: [{ requests: 5, per: 1m }], key: client_ip }\n",
    ));
    assert_eq!(c.store, StoreConfig::default());
    assert_eq!(rate_limit(&c).backend, Backend::Memory);
    assert_eq!(rate_limit(&c).key, vec![KeyPart::ClientIp]);
}

#[test]
fn limits_from_the_plan() {
    let plans = "plans: { free: {} }\n";
    let c = ok(&with_base(&format!(
        "{plans}plugins:\n  - rate_limit: {{ limits: plan }}\n"
    )));
    assert_eq!(
        rate_limit(&c).limits,
        LimitSource::Plan { fallback: vec![] }
    );
    let c = ok(&with_base(&format!(
        "{plans}plugins:\n  - rate_limit: {{ limits: {{ plan: {{ fallback: [{{ requests: 10, per: 1m }}] }} }} }}\n"
    )));
    assert_eq!(
        rate_limit(&c).limits,
        LimitSource::Plan {
            fallback: vec![lim(10, Duration::from_secs(60))]
        }
    );
}

#[test]
fn plan_names_are_free_form_without_a_plans_section() {
    let c = ok(&with_base(
        "consumer_groups: [{ name: g, plan: gold }]\nconsumers: [{ id: a, plan: whatever }]\n",
    ));
    assert_eq!(c.consumers[0].plan.as_deref(), Some("whatever"));
}

#[test]
fn unknown_plan_reference_suggests_a_name() {
    let text = with_base(
        "plans: { free: {}, pro: {} }\nconsumer_groups: [{ name: g, plan: pri }]\nconsumers:\n  - { id: a, plan: fre }\n  - { id: b, plan: gold }\n",
    );
    let diags = errors(&text);
    assert_eq!(diags.len(), 3, "{diags:#?}");
    let at = |path: &str| {
        diags
            .iter()
            .find(|d| d.path == path)
            .unwrap_or_else(|| panic!("no {path} in {diags:#?}"))
    };
    let d = at("consumer_groups[0].plan");
    assert_eq!((d.line, d.column), (8, 36));
    assert_eq!(d.message, "unknown plan `pri`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `pro`?"));
    let d = at("consumers[0].plan");
    assert_eq!((d.line, d.column), (10, 20));
    assert_eq!(d.hint.as_deref(), Some("did you mean `free`?"));
    let d = at("consumers[1].plan");
    assert_eq!(d.hint.as_deref(), Some("defined plans: free, pro"));
}

#[test]
fn duplicate_plan() {
    let d = one_error(
        &with_base("plans:\n  - name: a\n  - name: a\n"),
        9,
        11,
        "plans[1].name",
    );
    assert!(d.message.starts_with("duplicate plan `a`"), "{d}");
}

#[test]
fn redis_url_is_checked_and_never_shown() {
    let d = one_error(
        &with_base("store: { redis: { url: \"http://:hunter2@host\" } }\n"),
        7,
        24,
        "store.redis.url",
    );
    assert!(d.message.starts_with("invalid Redis URL"), "{d}");
    assert!(!d.to_string().contains("hunter2"), "{d}");
}

#[test]
fn backend_redis_needs_a_store() {
    let d = one_error(
        &with_base(
            "plugins:\n  - rate_limit: { limits: [{ requests: 1, per: 1s }], backend: redis }\n",
        ),
        8,
        64,
        "plugins[0].rate_limit.backend",
    );
    assert_eq!(d.message, "`backend: redis` needs a Redis store");
}

#[test]
fn limits_from_a_plan_need_plans() {
    let d = one_error(
        &with_base("plugins:\n  - rate_limit: { limits: plan }\n"),
        8,
        27,
        "plugins[0].rate_limit.limits",
    );
    assert!(d.message.contains("need a `plans:` section"), "{d}");
}

/// Each case: text after `BASE`, line, column, path, start of the message.
#[test]
fn each_error_has_a_location() {
    let rl = "plugins:\n  - rate_limit: ";
    let cases: &[(String, usize, usize, &str, &str)] = &[
        (
            "plans: { a: { limits: [{ requests: 0, per: 1s }] } }\n".into(),
            7,
            36,
            "plans.a.limits[0].requests",
            "0 is out of range",
        ),
        (
            "plans: { a: { limits: [{ requests: 1, per: 0s }] } }\n".into(),
            7,
            44,
            "plans.a.limits[0].per",
            "must be greater than zero",
        ),
        (
            "plans: { a: { limits: [{ requests: 1, per: 1s, burst: 2 }] } }\n".into(),
            7,
            55,
            "plans.a.limits[0].burst",
            "`burst` applies to the token bucket only",
        ),
        (
            "plans: { a: { limits: [{ requests: 1, per: 1s, algorithm: token_bucket, burst: 0 }] } }\n".into(),
            7,
            80,
            "plans.a.limits[0].burst",
            "0 is out of range",
        ),
        (
            "plans: { a: { limits: [{ requests: 1, per: 1s, algorithm: gcra }] } }\n".into(),
            7,
            59,
            "plans.a.limits[0].algorithm",
            "unknown value `gcra`",
        ),
        (
            "plans: { a: { quota: { requests: 1, per: week } } }\n".into(),
            7,
            42,
            "plans.a.quota.per",
            "unknown value `week`",
        ),
        (
            "plans: { a: { quota: { requests: 1, per: day, scope: user } } }\n".into(),
            7,
            54,
            "plans.a.quota.scope",
            "unknown value `user`",
        ),
        (
            "plans: { a: { limts: [] } }\n".into(),
            7,
            15,
            "plans.a.limts",
            "unknown key `limts`",
        ),
        (
            format!("{rl}{{ limits: [] }}\n"),
            8,
            27,
            "plugins[0].rate_limit.limits",
            "at least one limit is required",
        ),
        (
            format!("{rl}{{}}\n"),
            8,
            17,
            "plugins[0].rate_limit.limits",
            "missing required key `limits`",
        ),
        (
            format!("{rl}{{ limits: plans }}\n"),
            8,
            27,
            "plugins[0].rate_limit.limits",
            "unknown value `plans`",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], key: [consumr] }}\n"),
            8,
            61,
            "plugins[0].rate_limit.key[0]",
            "unknown key part `consumr`",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], key: [\"header:a b\"] }}\n"),
            8,
            61,
            "plugins[0].rate_limit.key[0]",
            "invalid header name `a b`",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], key: [\"param:\"] }}\n"),
            8,
            61,
            "plugins[0].rate_limit.key[0]",
            "`param:` needs a param",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], key: [] }}\n"),
            8,
            60,
            "plugins[0].rate_limit.key",
            "a key needs at least one part",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], max_keys: 0 }}\n"),
            8,
            65,
            "plugins[0].rate_limit.max_keys",
            "0 is out of range",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], headers: {{ draft: 1 }} }}\n"),
            8,
            73,
            "plugins[0].rate_limit.headers.draft",
            "expected `true` or `false`",
        ),
        (
            format!("{rl}{{ limits: [{{ requests: 1, per: 1s }}], backend: disk }}\n"),
            8,
            64,
            "plugins[0].rate_limit.backend",
            "unknown value `disk`",
        ),
        (
            "store: { redis: { url: \"redis://h\", connections: 65 } }\n".into(),
            7,
            50,
            "store.redis.connections",
            "65 is out of range",
        ),
        (
            "store: { redis: { url: \"redis://h\", timeout: 0ms } }\n".into(),
            7,
            46,
            "store.redis.timeout",
            "must be greater than zero",
        ),
        (
            "store: { redis: { url: \"redis://h\", on_failure: open } }\n".into(),
            7,
            49,
            "store.redis.on_failure",
            "unknown value `open`",
        ),
        (
            "store: { redis: {} }\n".into(),
            7,
            17,
            "store.redis.url",
            "missing required key `url`",
        ),
    ];
    for (rest, line, column, path, message) in cases {
        let d = one_error(&with_base(rest), *line, *column, path);
        assert!(d.message.starts_with(message), "{rest}: {d}");
    }
}

fn load_two(a: &str, b: &str) -> Result<Config, crate::ConfigError> {
    let env = super::MapEnv(Default::default());
    crate::load_texts(
        &[
            ("/etc/gatehouse/a.yaml".into(), a.to_owned()),
            ("/etc/gatehouse/b.yaml".into(), b.to_owned()),
        ],
        &env,
    )
}

#[test]
fn plans_and_store_across_files() {
    // Consumers and plugins in the first file; plans and the store in the second.
    let c = load_two(
        &format!(
            "{BASE}consumers: [{{ id: a, plan: pro }}]\nplugins: [{{ rate_limit: {{ limits: plan }} }}]\n"
        ),
        "plans: { pro: {} }\nstore: { redis: { url: \"redis://r:6379\" } }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.consumers[0].plan.as_deref(), Some("pro"));
    assert_eq!(rate_limit(&c).backend, Backend::Redis);

    // The same plan name in two files; `store` in two files.
    let err = load_two(
        &format!("{BASE}plans: {{ pro: {{}} }}\nstore: {{}}\n"),
        "plans: [{ name: pro }]\nstore: {}\n",
    )
    .err()
    .unwrap_or_else(|| panic!("expected errors"));
    let found: Vec<(String, usize, usize, &str)> = err
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.file.display().to_string(),
                d.line,
                d.column,
                d.path.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("/etc/gatehouse/b.yaml".to_owned(), 1, 17, "plans[0].name"),
            ("/etc/gatehouse/b.yaml".to_owned(), 2, 8, "store"),
        ],
        "{err}"
    );
    assert!(
        err.diagnostics[0]
            .message
            .contains("first defined at /etc/gatehouse/a.yaml:7:10"),
        "{err}"
    );
}

mod approximate;
