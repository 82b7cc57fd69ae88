use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::{
    Algorithm, Backend, KeyPart, Limit, LimitSource, Plan, RateLimitConfig, RateLimitHeaders,
};
use gatehouse_store::{Decision, Error, RateLimiter};
use http::HeaderName;

use super::headers::{ceil_secs, more_restrictive, retry_after_secs};
use super::key::{MAX_KEY_BYTES, counter_key, limit_id, request_key};
use super::*;
use crate::builtin::testing::{cx, req, values};

/// Counts per key; allows `limit.requests` per key (no time), remembers the keys it saw.
#[derive(Default)]
struct Counting {
    counts: Mutex<HashMap<String, u64>>,
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl RateLimiter for Counting {
    async fn check(
        &self,
        key: &str,
        limit: &Limit,
        cost: u64,
    ) -> std::result::Result<Decision, Error> {
        self.seen.lock().unwrap().push(key.to_owned());
        let mut counts = self.counts.lock().unwrap();
        let used = counts.entry(key.to_owned()).or_default();
        let allowed = *used + cost <= limit.requests;
        if allowed {
            *used += cost;
        }
        Ok(Decision {
            allowed,
            limit: limit.requests,
            remaining: limit.requests - *used,
            reset_after: limit.per,
            retry_after: (!allowed).then(|| limit.per / 3),
        })
    }
}

struct Failing;

#[async_trait]
impl RateLimiter for Failing {
    async fn check(&self, _: &str, _: &Limit, _: u64) -> std::result::Result<Decision, Error> {
        Err(Error::Unavailable("redis timed out".into()))
    }
}

fn limit(requests: u64, per_ms: u64) -> Limit {
    Limit {
        requests,
        per: Duration::from_millis(per_ms),
        algorithm: Algorithm::SlidingWindow,
        burst: None,
    }
}

fn config(limits: LimitSource, key: Vec<KeyPart>) -> RateLimitConfig {
    RateLimitConfig {
        limits,
        key,
        backend: Backend::Memory,
        headers: RateLimitHeaders::default(),
        max_keys: 1000,
        approximate: None,
    }
}

fn plans() -> Arc<HashMap<String, Plan>> {
    let plan = |name: &str, limits: Vec<Limit>| {
        (
            name.to_owned(),
            Plan {
                name: name.to_owned(),
                limits,
                quota: None,
            },
        )
    };
    Arc::new(HashMap::from([
        plan("free", vec![limit(2, 60_000)]),
        plan("pro", vec![limit(5, 60_000)]),
        plan("enterprise", vec![]),
    ]))
}

fn plugin(config: &RateLimitConfig, limiter: Arc<dyn RateLimiter>) -> RateLimit {
    RateLimit::with_limiter(config, plans(), limiter, &Limiters::default())
}

fn identity(consumer: &str, plan: Option<&str>) -> Identity {
    Identity {
        method: "key_auth",
        consumer_id: Some(consumer.to_owned()),
        subject: Some(format!("sub-{consumer}")),
        tenant: Some("t1".to_owned()),
        plan: plan.map(str::to_owned),
        ..Default::default()
    }
}

#[test]
fn key_parts_are_resolved_escaped_and_joined() {
    let mut c = cx();
    c.route = Some(Arc::from("orders"));
    c.params = vec![("id".into(), "4:2".into())];
    let r = req("GET", &[("x-team", "blue%")]);
    let parts = vec![
        KeyPart::Consumer,
        KeyPart::ApiKey,
        KeyPart::User,
        KeyPart::Tenant,
        KeyPart::ClientIp,
        KeyPart::Route,
        KeyPart::Header(HeaderName::from_static("x-team")),
        KeyPart::Header(HeaderName::from_static("x-missing")),
        KeyPart::PathParam("id".into()),
        KeyPart::Literal("lit".into()),
    ];
    // Unauthenticated: consumer and api_key fall back to the client IP; user and tenant are empty.
    assert_eq!(
        request_key(&parts, &c, &r),
        "ip:192.0.2.1:ip:192.0.2.1:::192.0.2.1:orders:blue%25::4%3A2:lit"
    );
    c.identity = Some(identity("acme", None));
    assert_eq!(
        request_key(&parts, &c, &r),
        "acme:acme:sub-acme:t1:192.0.2.1:orders:blue%25::4%3A2:lit"
    );
}

#[test]
fn consumer_ids_cannot_forge_the_ip_fallback() {
    let mut c = crate::builtin::testing::cx_from("2001:db8::1".parse().unwrap());
    let r = req("GET", &[]);
    let anonymous = request_key(&[KeyPart::Consumer], &c, &r);
    assert_eq!(anonymous, "ip:2001%3Adb8%3A%3A1");
    c.identity = Some(identity("ip:2001:db8::1", None));
    assert_ne!(request_key(&[KeyPart::Consumer], &c, &r), anonymous);
}

#[test]
fn counter_keys_carry_the_limit_and_hash_long_keys() {
    let sw = limit(10, 1000);
    let tb = Limit {
        algorithm: Algorithm::TokenBucket,
        burst: Some(20),
        ..sw.clone()
    };
    assert_eq!(limit_id(&sw), "10/1000/sliding_window");
    assert_eq!(limit_id(&tb), "10/1000/token_bucket+20");
    assert_eq!(counter_key(&sw, "acme"), "10/1000/sliding_window:acme");
    let long = "x".repeat(MAX_KEY_BYTES + 1);
    let hashed = counter_key(&sw, &long);
    assert!(
        hashed.starts_with("10/1000/sliding_window:%sha256:"),
        "{hashed}"
    );
    assert_eq!(hashed.len(), "10/1000/sliding_window:%sha256:".len() + 64);
    assert_ne!(hashed, counter_key(&sw, &"y".repeat(MAX_KEY_BYTES + 1)));
    assert_eq!(
        counter_key(&sw, &"x".repeat(MAX_KEY_BYTES)).len(),
        23 + MAX_KEY_BYTES
    );
}

#[test]
fn plan_resolution() {
    let fallback = vec![limit(1, 1000)];
    let p = plugin(
        &config(
            LimitSource::Plan {
                fallback: fallback.clone(),
            },
            vec![KeyPart::Consumer],
        ),
        Arc::new(Counting::default()),
    );
    assert_eq!(
        p.limits_for(Some(&identity("a", Some("free")))),
        &[limit(2, 60_000)]
    );
    assert_eq!(
        p.limits_for(Some(&identity("a", Some("pro")))),
        &[limit(5, 60_000)]
    );
    assert!(
        p.limits_for(Some(&identity("a", Some("enterprise"))))
            .is_empty()
    );
    assert_eq!(
        p.limits_for(Some(&identity("a", None))),
        fallback.as_slice()
    );
    assert_eq!(
        p.limits_for(Some(&identity("a", Some("gone")))),
        fallback.as_slice()
    );
    assert_eq!(p.limits_for(None), fallback.as_slice());
    let fixed = plugin(
        &config(LimitSource::Fixed(vec![limit(3, 10)]), vec![]),
        Arc::new(Counting::default()),
    );
    assert_eq!(
        fixed.limits_for(Some(&identity("a", Some("pro")))),
        &[limit(3, 10)]
    );
}

#[test]
fn header_rounding() {
    assert_eq!(ceil_secs(Duration::ZERO), 0);
    assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
    assert_eq!(ceil_secs(Duration::from_millis(1000)), 1);
    assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
    let d = |retry_after: Option<Duration>, reset_after: Duration| Decision {
        allowed: false,
        limit: 1,
        remaining: 0,
        reset_after,
        retry_after,
    };
    assert_eq!(
        retry_after_secs(&d(Some(Duration::from_millis(1)), Duration::ZERO)),
        1
    );
    assert_eq!(
        retry_after_secs(&d(Some(Duration::ZERO), Duration::ZERO)),
        1
    );
    assert_eq!(
        retry_after_secs(&d(Some(Duration::from_millis(2500)), Duration::ZERO)),
        3
    );
    assert_eq!(retry_after_secs(&d(None, Duration::from_millis(4200))), 5);
}

#[test]
fn most_restrictive_is_fewest_remaining_then_latest_reset() {
    let d = |remaining, reset_ms| Decision {
        allowed: true,
        limit: 10,
        remaining,
        reset_after: Duration::from_millis(reset_ms),
        retry_after: None,
    };
    assert!(more_restrictive(&d(1, 10), &d(2, 1)));
    assert!(!more_restrictive(&d(2, 1), &d(1, 10)));
    assert!(more_restrictive(&d(1, 10), &d(1, 5)));
    assert!(!more_restrictive(&d(1, 5), &d(1, 5)));
}

#[tokio::test]
async fn allows_then_refuses_with_retry_after_and_headers() {
    let mut c = config(
        LimitSource::Fixed(vec![limit(2, 10_000)]),
        vec![KeyPart::Consumer],
    );
    c.headers = RateLimitHeaders {
        draft: true,
        structured: true,
        x_ratelimit: true,
    };
    let p = plugin(&c, Arc::new(Counting::default()));
    for remaining in ["1", "0"] {
        let mut rcx = cx();
        let flow = p.on_access(&mut rcx, &mut req("GET", &[])).await.unwrap();
        assert!(matches!(flow, Flow::Continue));
        let h = &rcx.response_headers;
        assert_eq!(values(h, "ratelimit-limit"), ["2"]);
        assert_eq!(values(h, "ratelimit-remaining"), [remaining]);
        assert_eq!(values(h, "ratelimit-reset"), ["10"]);
        assert_eq!(values(h, "ratelimit-policy"), ["\"2-per-10s\";q=2;w=10"]);
        assert_eq!(
            values(h, "ratelimit"),
            [format!("\"2-per-10s\";r={remaining};t=10")]
        );
        assert_eq!(values(h, "x-ratelimit-remaining"), [remaining]);
    }
    let mut rcx = cx();
    let Flow::Respond(resp) = p.on_access(&mut rcx, &mut req("GET", &[])).await.unwrap() else {
        panic!("expected a refusal");
    };
    assert_eq!(resp.status(), 429);
    assert_eq!(values(resp.headers(), "retry-after"), ["4"]);
    assert_eq!(
        values(resp.headers(), "content-type"),
        ["application/problem+json"]
    );
    assert_eq!(values(&rcx.response_headers, "ratelimit-remaining"), ["0"]);
    assert_eq!(rcx.short_circuit, Some("rate_limited"));
}

#[tokio::test]
async fn consumers_have_their_own_counters() {
    let p = plugin(
        &config(
            LimitSource::Fixed(vec![limit(1, 1000)]),
            vec![KeyPart::Consumer],
        ),
        Arc::new(Counting::default()),
    );
    for who in ["a", "b"] {
        let mut rcx = cx();
        rcx.identity = Some(identity(who, None));
        assert!(matches!(
            p.decide(&rcx, &req("GET", &[])).await,
            Outcome::Allowed(..)
        ));
    }
    let mut rcx = cx();
    rcx.identity = Some(identity("a", None));
    assert!(matches!(
        p.decide(&rcx, &req("GET", &[])).await,
        Outcome::Refused(..)
    ));
}

#[tokio::test]
async fn every_limit_is_checked_until_the_first_refusal() {
    let counting = Arc::new(Counting::default());
    let limits = vec![limit(5, 1000), limit(1, 60_000), limit(9, 5000)];
    let p = plugin(
        &config(
            LimitSource::Fixed(limits.clone()),
            vec![KeyPart::Literal("g".into())],
        ),
        counting.clone(),
    );
    let rcx = cx();
    // All three counted; the 1/min limit (0 remaining) drives the headers.
    match p.decide(&rcx, &req("GET", &[])).await {
        Outcome::Allowed(l, d) => assert_eq!((l, d.remaining), (limits[1].clone(), 0)),
        other => panic!("{other:?}"),
    }
    // Refused by the second limit: the first counted the request, the third was not asked.
    assert!(
        matches!(p.decide(&rcx, &req("GET", &[])).await, Outcome::Refused(l, _) if l == limits[1])
    );
    let seen = counting.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "5/1000/sliding_window:g",
            "1/60000/sliding_window:g",
            "9/5000/sliding_window:g",
            "5/1000/sliding_window:g",
            "1/60000/sliding_window:g",
        ]
    );
}

#[tokio::test]
async fn unlimited_plans_add_no_headers() {
    let counting = Arc::new(Counting::default());
    let p = plugin(
        &config(
            LimitSource::Plan { fallback: vec![] },
            vec![KeyPart::Consumer],
        ),
        counting.clone(),
    );
    let mut rcx = cx();
    rcx.identity = Some(identity("big", Some("enterprise")));
    assert!(matches!(
        p.on_access(&mut rcx, &mut req("GET", &[])).await.unwrap(),
        Flow::Continue
    ));
    assert!(rcx.response_headers.is_empty());
    assert!(counting.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn store_failure_is_a_503_with_retry_after() {
    let p = plugin(
        &config(
            LimitSource::Fixed(vec![limit(1, 1000)]),
            vec![KeyPart::Consumer],
        ),
        Arc::new(Failing),
    );
    let mut rcx = cx();
    let Flow::Respond(resp) = p.on_access(&mut rcx, &mut req("GET", &[])).await.unwrap() else {
        panic!("expected a 503");
    };
    assert_eq!(resp.status(), 503);
    assert_eq!(values(resp.headers(), "retry-after"), ["1"]);
}

#[test]
fn limiters_share_memory_limiters_by_max_keys() {
    let made = Arc::new(Mutex::new(Vec::new()));
    let log = made.clone();
    let factory: limiters::MemoryFactory = Arc::new(move |max| {
        log.lock().unwrap().push(max);
        Arc::new(Counting::default()) as Arc<dyn RateLimiter>
    });
    let l = Limiters::from_parts(Default::default(), None, Some(factory));
    let a = l.memory(10).unwrap();
    assert!(Arc::ptr_eq(&a, &l.memory(10).unwrap()));
    l.memory(20).unwrap();
    assert_eq!(*made.lock().unwrap(), [10, 20]);
    let next = Limiters::from_parts(Default::default(), None, None);
    next.adopt_memory(l.memory_limiters());
    assert!(Arc::ptr_eq(&a, &next.memory(10).unwrap()), "adopted");
    assert!(next.memory(30).is_none(), "no factory: nothing new");
    assert!(Limiters::default().memory(5).is_some());
    assert!(Limiters::default().redis().is_none());
}
