//! Authentication hot paths. One `criterion_group!` per concern (`key_auth` here; other methods add
//! their own group and list it in `criterion_main!`).

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_config::model::{Consumer, KeyAuthConfig, RedisFailure, RedisKeySource};
use gatehouse_plugins::auth::{AuthOutcome, Authenticator};
use gatehouse_plugins::builtin::BuildContext;
use gatehouse_plugins::builtin::key_auth::cache::KeyRecord;
use gatehouse_plugins::builtin::key_auth::{KeyAuth, hash_key};
use gatehouse_plugins::{ConsumerRegistry, RequestContext};
use http::HeaderName;

#[path = "auth/jwt.rs"]
mod jwt;

/// Runs a future that completes without waiting (no I/O, no timer), as the lookups here do.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("benchmarked future did not complete at once"),
    }
}

fn consumers(n: usize) -> Vec<Consumer> {
    (0..n)
        .map(|i| Consumer {
            id: format!("consumer-{i}"),
            tenant: Some(format!("tenant-{i}")),
            plan: Some("pro".to_owned()),
            groups: Vec::new(),
            roles: vec!["orders.read".to_owned(), "orders.write".to_owned()],
            api_key_hashes: vec![hash_key(&format!("key-{i}"))],
            certificates: Vec::new(),
            jwt_subjects: Vec::new(),
            metadata: Default::default(),
        })
        .collect()
}

fn key_auth(redis: Option<RedisKeySource>) -> KeyAuth {
    let config = KeyAuthConfig {
        header: HeaderName::from_static("x-api-key"),
        authorization_scheme: true,
        query_param: None,
        // Keeps the request unchanged, so one request serves every iteration.
        keep_credential: true,
        redis,
    };
    let cx = BuildContext {
        consumers: Arc::new(ConsumerRegistry::new(&consumers(10_000))),
        ..Default::default()
    };
    KeyAuth::new(&config, &cx).expect("key_auth")
}

fn request(key: &str) -> http::request::Parts {
    let req = http::Request::get("/orders/1")
        .header("x-api-key", key)
        .header("accept", "application/json")
        .body(())
        .expect("request");
    req.into_parts().0
}

fn bench_key_auth(c: &mut Criterion) {
    let cx = RequestContext::new(
        "bench".to_owned(),
        "127.0.0.1:40000".parse().expect("addr"),
        "127.0.0.1".parse().expect("ip"),
        "http",
    );
    let mut group = c.benchmark_group("key_auth");

    group.bench_function("sha256", |b| b.iter(|| hash_key(black_box("key-4242"))));

    let auth = key_auth(None);
    let mut req = request("key-4242");
    group.bench_function("hit/config_consumers_10k", |b| {
        b.iter(|| {
            let outcome = ready(auth.authenticate(&cx, &mut req)).expect("authenticate");
            assert!(matches!(outcome, AuthOutcome::Authenticated(_)));
            outcome
        })
    });

    // Redis configured but never asked: the key is a fresh entry of the in-process cache.
    let redis = RedisKeySource {
        url: "redis://127.0.0.1:1".to_owned(),
        prefix: "apikey:".to_owned(),
        timeout: Duration::from_millis(50),
        cache_ttl: Duration::from_secs(3600),
        negative_ttl: Duration::from_secs(5),
        cache_size: 100_000,
        on_error: RedisFailure::Deny,
    };
    let auth = key_auth(Some(redis));
    let store = auth.redis().expect("redis store");
    let now = tokio::time::Instant::now();
    for i in 0..10_000 {
        let record = KeyRecord {
            consumer: format!("redis-consumer-{i}"),
            tenant: Some("t".to_owned()),
            plan: Some("gold".to_owned()),
            roles: Some(vec!["orders.read".to_owned()]),
            expires_at: None,
        };
        store.cache().store(
            &hash_key(&format!("redis-key-{i}")),
            Some(Arc::new(record)),
            now,
        );
    }
    let mut req = request("redis-key-4242");
    group.bench_function("hit/redis_cache_10k", |b| {
        b.iter(|| {
            let outcome = ready(auth.authenticate(&cx, &mut req)).expect("authenticate");
            assert!(matches!(outcome, AuthOutcome::Authenticated(_)));
            outcome
        })
    });
    group.finish();
}

criterion_group!(key_auth_benches, bench_key_auth);
criterion_group!(jwt_benches, jwt::bench_jwt);
criterion_main!(key_auth_benches, jwt_benches);
