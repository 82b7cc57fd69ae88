use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_config::model::{Consumer, IntrospectionConfig, IntrospectionFailure};
use http::StatusCode;
use serde_json::json;

use super::cache::TokenCache;
use super::response::{self, ActiveToken};
use super::*;
use crate::builtin::testing::{cx, req};

const NOW: u64 = 1_800_000_000;

fn parse(v: serde_json::Value) -> std::result::Result<Option<ActiveToken>, &'static str> {
    response::parse(v.to_string().as_bytes(), NOW)
}

#[test]
fn inactive_and_expired_tokens_are_not_active() {
    assert_eq!(parse(json!({"active": false})), Ok(None));
    assert_eq!(parse(json!({"active": true, "exp": NOW})), Ok(None));
    assert_eq!(parse(json!({"active": true, "exp": NOW - 10})), Ok(None));
    assert_eq!(parse(json!({"active": true, "exp": -5})), Ok(None));
    assert_eq!(parse(json!({"active": true, "nbf": NOW + 60})), Ok(None));
}

#[test]
fn active_token_fields_are_mapped() {
    let t = parse(json!({
        "active": true, "sub": "user-1", "client_id": "app", "scope": "orders.read  orders.write",
        "exp": NOW + 100, "iss": "https://idp.test/"
    }))
    .unwrap()
    .unwrap();
    assert_eq!(t.sub.as_deref(), Some("user-1"));
    assert_eq!(t.client_id.as_deref(), Some("app"));
    assert_eq!(t.scopes, ["orders.read", "orders.write"]);
    assert_eq!(t.exp, Some(NOW + 100));
    assert_eq!(t.claims["iss"], "https://idp.test/");
    let arr = parse(json!({"active": true, "scope": ["a", "b"]}))
        .unwrap()
        .unwrap();
    assert_eq!(arr.scopes, ["a", "b"]);
}

#[test]
fn unusable_responses_are_errors() {
    assert!(response::parse(b"not json", NOW).is_err());
    assert!(parse(json!([1, 2])).is_err());
    assert!(parse(json!({"sub": "x"})).is_err());
    assert!(parse(json!({"active": "true"})).is_err());
    assert!(parse(json!({"active": true, "exp": "soon"})).is_err());
    assert!(parse(json!({"active": true, "sub": 5})).is_err());
    assert!(parse(json!({"active": true, "scope": 5})).is_err());
}

#[test]
fn positive_ttl_is_bounded_by_exp() {
    let ttl = Duration::from_secs(60);
    assert_eq!(response::positive_ttl(None, NOW, ttl), ttl);
    assert_eq!(response::positive_ttl(Some(NOW + 3600), NOW, ttl), ttl);
    assert_eq!(
        response::positive_ttl(Some(NOW + 10), NOW, ttl),
        Duration::from_secs(10)
    );
    assert_eq!(
        response::positive_ttl(Some(NOW - 1), NOW, ttl),
        Duration::ZERO
    );
}

fn consumer(id: &str, subjects: &[&str]) -> Consumer {
    Consumer {
        id: id.to_owned(),
        tenant: Some("t1".to_owned()),
        plan: Some("pro".to_owned()),
        groups: vec![],
        roles: vec!["member".to_owned()],
        api_key_hashes: vec![],
        certificates: vec![],
        jwt_subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        metadata: Default::default(),
    }
}

#[test]
fn identity_resolves_consumer_by_sub_then_client_id() {
    let registry =
        ConsumerRegistry::new(&[consumer("acme", &["user-1"]), consumer("svc", &["app"])]);
    let token = |v| parse(v).unwrap().unwrap();

    let id = response::identity(
        token(json!({"active": true, "sub": "user-1", "client_id": "app", "scope": "a"})),
        &registry,
    );
    assert_eq!(id.method, "oauth2_introspection");
    assert_eq!(id.consumer_id.as_deref(), Some("acme"));
    assert_eq!(id.subject.as_deref(), Some("user-1"));
    assert_eq!(id.roles, ["member", "a"]);
    assert_eq!(id.claims.as_ref().unwrap()["client_id"], "app");

    let id = response::identity(
        token(json!({"active": true, "sub": "other", "client_id": "app"})),
        &registry,
    );
    assert_eq!(id.consumer_id.as_deref(), Some("svc"));
    assert_eq!(id.subject.as_deref(), Some("other"));

    let id = response::identity(
        token(json!({"active": true, "client_id": "app"})),
        &registry,
    );
    assert_eq!(id.subject.as_deref(), Some("svc"));

    let id = response::identity(
        token(json!({"active": true, "client_id": "nobody", "scope": "x y"})),
        &registry,
    );
    assert_eq!(id.consumer_id, None);
    assert_eq!(id.subject.as_deref(), Some("nobody"));
    assert_eq!(id.roles, ["x", "y"]);
}

#[test]
fn bearer_token_extraction() {
    let h = |v: &str| req("GET", &[("authorization", v)]).headers;
    assert_eq!(bearer_token(&req("GET", &[]).headers), Bearer::Absent);
    assert_eq!(bearer_token(&h("Basic abc")), Bearer::Absent);
    assert_eq!(bearer_token(&h("Bearerabc")), Bearer::Absent);
    assert_eq!(
        bearer_token(&h("Bearer abc.def")),
        Bearer::Token("abc.def".into())
    );
    assert_eq!(
        bearer_token(&h("bearer  tok=")),
        Bearer::Token("tok=".into())
    );
    assert_eq!(bearer_token(&h("Bearer ")), Bearer::Malformed);
    assert_eq!(bearer_token(&h("Bearer a b")), Bearer::Malformed);
    assert_eq!(
        bearer_token(&h(&format!("Bearer {}", "a".repeat(9000)))),
        Bearer::Malformed
    );
    // Several `Authorization` headers: other schemes are ignored, the same token twice is one
    // token, different ones are ambiguous.
    let hs = |vs: &[&str]| {
        let pairs: Vec<(&str, &str)> = vs.iter().map(|v| ("authorization", *v)).collect();
        req("GET", &pairs).headers
    };
    assert_eq!(
        bearer_token(&hs(&["Basic abc", "Bearer t"])),
        Bearer::Token("t".into())
    );
    assert_eq!(
        bearer_token(&hs(&["Bearer t", "bearer t "])),
        Bearer::Token("t".into())
    );
    assert_eq!(
        bearer_token(&hs(&["Bearer t", "Bearer u"])),
        Bearer::Ambiguous
    );
    assert_eq!(
        bearer_token(&hs(&["Bearer t", "Bearer u", "Bearer t"])),
        Bearer::Ambiguous
    );
    assert_eq!(
        bearer_token(&hs(&["Bearer t", "Bearer "])),
        Bearer::Malformed
    );
}

#[test]
fn basic_credentials_are_form_encoded() {
    let v = basic_authorization("my id", "s:e&c").unwrap();
    assert!(v.is_sensitive());
    let encoded = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decoded, b"my+id:s%3Ae%26c");
}

/// A fetch that counts its calls, takes 100 ms (virtual) and returns `value` cacheable for `ttl`.
async fn counted(
    calls: &AtomicUsize,
    value: u32,
    ttl: Duration,
) -> std::result::Result<(u32, Duration), &'static str> {
    calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok((value, ttl))
}

#[tokio::test(start_paused = true)]
async fn cached_until_ttl_then_refetched() {
    let cache = TokenCache::new(10);
    let calls = AtomicUsize::new(0);
    let ttl = Duration::from_secs(5);
    for _ in 0..3 {
        assert_eq!(
            cache
                .get_or_fetch([1; 32], || counted(&calls, 7, ttl))
                .await,
            Ok(7)
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(
        cache
            .get_or_fetch([1; 32], || counted(&calls, 7, ttl))
            .await,
        Ok(7)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        cache
            .get_or_fetch([1; 32], || counted(&calls, 8, ttl))
            .await,
        Ok(8)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Another key is fetched on its own; a zero TTL is never cached.
    cache
        .get_or_fetch([2; 32], || counted(&calls, 1, Duration::ZERO))
        .await
        .unwrap();
    cache
        .get_or_fetch([2; 32], || counted(&calls, 1, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn failures_are_shared_but_not_cached() {
    let cache: TokenCache<u32> = TokenCache::new(10);
    let calls = AtomicUsize::new(0);
    let fail = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        Err("down")
    };
    let (a, b) = tokio::join!(
        cache.get_or_fetch([3; 32], fail),
        cache.get_or_fetch([3; 32], fail)
    );
    assert_eq!((a, b), (Err("down"), Err("down")));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.len(), 0);
    let _ = cache.get_or_fetch([3; 32], fail).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_lookups_share_one_fetch() {
    let cache = Arc::new(TokenCache::new(10));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (cache, calls) = (cache.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_fetch([4; 32], || counted(&calls, 9, Duration::from_secs(1)))
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(9));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn capacity_drops_expired_then_all_results() {
    let cache = TokenCache::new(2);
    let calls = AtomicUsize::new(0);
    cache
        .get_or_fetch([1; 32], || counted(&calls, 1, Duration::from_secs(1)))
        .await
        .unwrap();
    cache
        .get_or_fetch([2; 32], || counted(&calls, 2, Duration::from_secs(60)))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    cache
        .get_or_fetch([3; 32], || counted(&calls, 3, Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(cache.len(), 2);
    cache
        .get_or_fetch([4; 32], || counted(&calls, 4, Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(cache.len(), 1);
}

fn config(endpoint: &str, on_error: IntrospectionFailure) -> IntrospectionConfig {
    IntrospectionConfig {
        endpoint: endpoint.to_owned(),
        client_id: "gw".to_owned(),
        client_secret: "secret".to_owned(),
        timeout: Duration::from_millis(500),
        cache_ttl: Duration::from_secs(60),
        negative_ttl: Duration::from_secs(5),
        on_error,
        keep_credential: false,
    }
}

#[test]
fn invalid_endpoints_are_build_errors() {
    for bad in ["", "/introspect", "ftp://idp/introspect", "http://"] {
        let cfg = config(bad, IntrospectionFailure::Deny);
        assert!(Introspection::new(&cfg, Arc::default()).is_err(), "{bad:?}");
    }
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn endpoint_down_denies_or_falls_through() {
    let url = format!("http://127.0.0.1:{}/introspect", closed_port());
    let deny =
        Introspection::new(&config(&url, IntrospectionFailure::Deny), Arc::default()).unwrap();
    let mut parts = req("GET", &[("authorization", "Bearer tok")]);
    match deny.authenticate(&cx(), &mut parts).await.unwrap() {
        AuthOutcome::Rejected(f) => assert_eq!(f.status, StatusCode::SERVICE_UNAVAILABLE),
        other => panic!("{other:?}"),
    }
    assert!(parts.headers.contains_key("authorization"));
    let anon = Introspection::new(
        &config(&url, IntrospectionFailure::Anonymous),
        Arc::default(),
    )
    .unwrap();
    assert!(matches!(
        anon.authenticate(&cx(), &mut parts).await.unwrap(),
        AuthOutcome::NoCredentials
    ));
    let mut none = req("GET", &[]);
    assert!(matches!(
        deny.authenticate(&cx(), &mut none).await.unwrap(),
        AuthOutcome::NoCredentials
    ));
}
