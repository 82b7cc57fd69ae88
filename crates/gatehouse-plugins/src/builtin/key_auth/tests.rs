use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{Consumer, KeyAuthConfig, RedisFailure, RedisKeySource};
use http::HeaderName;

use super::cache::KeyRecord;
use super::redis::{Lookup, RedisKeyStore, parse_record};
use super::*;
use crate::builtin::testing::{cx, req};

const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn consumer(id: &str, key: &str) -> Consumer {
    Consumer {
        id: id.to_owned(),
        tenant: Some(format!("{id}-corp")),
        plan: Some("pro".to_owned()),
        groups: Vec::new(),
        roles: vec!["orders.read".to_owned()],
        api_key_hashes: vec![hash_key(key)],
        certificates: Vec::new(),
        jwt_subjects: Vec::new(),
        metadata: BTreeMap::new(),
    }
}

fn config() -> KeyAuthConfig {
    KeyAuthConfig {
        header: HeaderName::from_static("x-api-key"),
        authorization_scheme: true,
        query_param: Some("api_key".to_owned()),
        keep_credential: false,
        redis: None,
    }
}

fn build(config: &KeyAuthConfig) -> KeyAuth {
    let cx = BuildContext {
        consumers: Arc::new(ConsumerRegistry::new(&[consumer("acme", "secret-1")])),
        ..Default::default()
    };
    KeyAuth::new(config, &cx).unwrap()
}

fn with_uri(uri: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut parts = req("GET", headers);
    parts.uri = uri.parse().unwrap();
    parts
}

/// A Redis URL nobody listens on.
fn dead_redis(on_error: RedisFailure) -> RedisKeySource {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    RedisKeySource {
        url: format!("redis://127.0.0.1:{port}"),
        prefix: "apikey:".to_owned(),
        timeout: Duration::from_millis(50),
        cache_ttl: Duration::from_secs(30),
        negative_ttl: Duration::from_secs(5),
        cache_size: 100,
        on_error,
    }
}

fn record(consumer: &str) -> Arc<KeyRecord> {
    Arc::new(KeyRecord {
        consumer: consumer.to_owned(),
        tenant: None,
        plan: None,
        roles: None,
        expires_at: None,
    })
}

#[test]
fn hashes_are_lower_case_sha256_hex() {
    assert_eq!(hash_key("abc"), ABC_SHA256);
}

#[test]
fn key_from_header_authorization_or_query() {
    let auth = build(&config());
    let header = with_uri("/?other=q", &[("x-api-key", " h ")]);
    assert_eq!(
        auth.extract(&header),
        Presented::Key("h".to_owned(), KeySource::Header)
    );
    let authz = with_uri("/?other=q", &[("authorization", "apikey  a ")]);
    assert_eq!(
        auth.extract(&authz),
        Presented::Key("a".to_owned(), KeySource::Authorization)
    );
    let query = with_uri("/p?x=1&api_key=k%2By+z", &[("authorization", "Bearer t")]);
    assert_eq!(
        auth.extract(&query),
        Presented::Key("k+y z".to_owned(), KeySource::Query)
    );
    assert_eq!(
        auth.extract(&with_uri("/?other=1", &[])),
        Presented::Nothing
    );
}

#[test]
fn different_keys_are_ambiguous_the_same_key_twice_is_one() {
    let auth = build(&config());
    // Before, the header silently won over the other places.
    for (uri, headers) in [
        (
            "/?api_key=q",
            vec![("x-api-key", "h"), ("authorization", "ApiKey a")],
        ),
        ("/", vec![("x-api-key", "h"), ("x-api-key", "g")]),
        (
            "/",
            vec![("authorization", "ApiKey a"), ("authorization", "ApiKey b")],
        ),
        ("/?api_key=q", vec![("x-api-key", "h")]),
        ("/?api_key=q&api_key=r", vec![]),
        // An empty copy next to a real key is a different key.
        ("/?api_key=", vec![("x-api-key", "h")]),
    ] {
        assert_eq!(
            auth.extract(&with_uri(uri, &headers)),
            Presented::Ambiguous,
            "{uri} {headers:?}"
        );
    }
    let same = with_uri(
        "/?api_key=h&api_key=h",
        &[
            ("x-api-key", "h"),
            ("X-Api-Key", " h"),
            ("authorization", "ApiKey h"),
        ],
    );
    assert_eq!(
        auth.extract(&same),
        Presented::Key("h".to_owned(), KeySource::Header)
    );
}

#[test]
fn disabled_sources_are_ignored() {
    let config = KeyAuthConfig {
        authorization_scheme: false,
        query_param: None,
        ..config()
    };
    let auth = build(&config);
    let parts = with_uri("/?api_key=q", &[("authorization", "ApiKey a")]);
    assert_eq!(auth.extract(&parts), Presented::Nothing);
}

#[test]
fn query_param_removal_keeps_the_rest() {
    let uri: Uri = "/p?a=1&api_key=k&b=2&api_key=x".parse().unwrap();
    assert_eq!(without_query_param(&uri, "api_key").unwrap(), "/p?a=1&b=2");
    let only: Uri = "/p?api_key=k".parse().unwrap();
    assert_eq!(without_query_param(&only, "api_key").unwrap(), "/p");
    let none: Uri = "/p?a=1".parse().unwrap();
    assert_eq!(without_query_param(&none, "api_key"), None);
}

#[tokio::test]
async fn config_consumer_key_authenticates_and_is_stripped() {
    let auth = build(&config());
    let mut parts = with_uri("/p?api_key=secret-1&a=1", &[("authorization", "ApiKey x")]);
    parts.headers.remove("authorization");
    let AuthOutcome::Authenticated(identity) = auth.authenticate(&cx(), &mut parts).await.unwrap()
    else {
        panic!("not authenticated");
    };
    assert_eq!(identity.method, "key_auth");
    assert_eq!(identity.consumer_id.as_deref(), Some("acme"));
    assert_eq!(identity.tenant.as_deref(), Some("acme-corp"));
    assert_eq!(identity.roles, vec!["orders.read".to_owned()]);
    assert_eq!(parts.uri, "/p?a=1");

    let mut parts = req("GET", &[("authorization", "ApiKey secret-1")]);
    let outcome = auth.authenticate(&cx(), &mut parts).await.unwrap();
    assert!(matches!(outcome, AuthOutcome::Authenticated(_)));
    assert!(parts.headers.get("authorization").is_none());
}

#[tokio::test]
async fn keep_credential_forwards_the_key() {
    let auth = build(&KeyAuthConfig {
        keep_credential: true,
        ..config()
    });
    let mut parts = req("GET", &[("x-api-key", "secret-1")]);
    let outcome = auth.authenticate(&cx(), &mut parts).await.unwrap();
    assert!(matches!(outcome, AuthOutcome::Authenticated(_)));
    assert_eq!(parts.headers["x-api-key"], "secret-1");
}

#[tokio::test]
async fn unknown_empty_and_missing_keys() {
    let auth = build(&config());
    let mut parts = req("GET", &[("x-api-key", "nope")]);
    let AuthOutcome::Rejected(failure) = auth.authenticate(&cx(), &mut parts).await.unwrap() else {
        panic!("not rejected");
    };
    assert_eq!(failure.status, 401);
    assert_eq!(failure.challenge.unwrap(), CHALLENGE);
    assert_eq!(failure.reason, "unknown api key");
    let mut parts = req("GET", &[("x-api-key", "")]);
    let outcome = auth.authenticate(&cx(), &mut parts).await.unwrap();
    assert!(matches!(outcome, AuthOutcome::Rejected(_)));
    let mut parts = req("GET", &[("authorization", "Bearer abc")]);
    let outcome = auth.authenticate(&cx(), &mut parts).await.unwrap();
    assert!(matches!(outcome, AuthOutcome::NoCredentials));
    assert!(parts.headers.get("authorization").is_some());
}

#[test]
fn redis_records_are_parsed_strictly() {
    let fields = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let full = fields(&[
        ("consumer", "acme"),
        ("tenant", "t"),
        ("plan", "gold"),
        ("roles", "a, b,,c"),
        ("expires_at", "4102444800"),
    ]);
    let record = parse_record(&full, ABC_SHA256).unwrap();
    assert_eq!(record.roles.unwrap(), ["a", "b", "c"]);
    assert_eq!(record.expires_at, Some(4_102_444_800));
    assert_eq!(parse_record(&fields(&[]), ABC_SHA256), None);
    assert_eq!(parse_record(&fields(&[("tenant", "t")]), ABC_SHA256), None);
    let bad_expiry = fields(&[("consumer", "a"), ("expires_at", "tomorrow")]);
    assert_eq!(parse_record(&bad_expiry, ABC_SHA256), None);
}

#[tokio::test(start_paused = true)]
async fn fresh_entries_answer_without_redis_until_their_ttl() {
    let store = RedisKeyStore::new(&dead_redis(RedisFailure::Deny)).unwrap();
    let now = tokio::time::Instant::now();
    store.cache().store("k1", Some(record("acme")), now);
    store.cache().store("k2", None, now);
    assert_eq!(store.lookup("k1").await, Lookup::Found(record("acme")));
    assert_eq!(store.lookup("k2").await, Lookup::Unknown);
    // The negative entry (5 s) goes stale first; Redis is down and `deny` refuses to guess.
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(store.lookup("k1").await, Lookup::Found(record("acme")));
    assert_eq!(store.lookup("k2").await, Lookup::Unavailable);
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(store.lookup("k1").await, Lookup::Unavailable);
}

#[tokio::test(start_paused = true)]
async fn serve_from_cache_uses_stale_positive_entries_only() {
    let store = RedisKeyStore::new(&dead_redis(RedisFailure::ServeFromCache)).unwrap();
    let now = tokio::time::Instant::now();
    store.cache().store("k1", Some(record("acme")), now);
    store.cache().store("k2", None, now);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(store.lookup("k1").await, Lookup::Found(record("acme")));
    assert_eq!(store.lookup("k2").await, Lookup::Unavailable);
    assert_eq!(store.lookup("never-seen").await, Lookup::Unavailable);
}

#[tokio::test]
async fn redis_records_override_a_config_consumer_of_the_same_id() {
    let auth = build(&config());
    let identity = auth.identity_from(&KeyRecord {
        consumer: "acme".to_owned(),
        tenant: None,
        plan: Some("gold".to_owned()),
        roles: Some(vec!["x".to_owned()]),
        expires_at: None,
    });
    assert_eq!(identity.tenant.as_deref(), Some("acme-corp"));
    assert_eq!(identity.plan.as_deref(), Some("gold"));
    assert_eq!(identity.roles, ["x"]);
    let stranger = auth.identity_from(&record("zed"));
    assert_eq!(stranger.consumer_id.as_deref(), Some("zed"));
    assert_eq!(stranger.method, "key_auth");
}

#[test]
fn the_cache_is_bounded() {
    let cache = super::cache::KeyCache::new(10, Duration::from_secs(1), Duration::from_secs(1));
    let now = tokio::time::Instant::now();
    for i in 0..1000 {
        cache.store(&format!("k{i}"), None, now);
    }
    assert!(cache.len() <= 10 + 2, "{} entries", cache.len());
}
