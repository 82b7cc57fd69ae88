use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{
    Algorithm, Backend, KeyPart, Limit, LimitSource, RateLimitConfig, RateLimitHeaders,
};
use gatehouse_metrics::{Collector, Encoder, Format};

use super::super::{Limiters, RateLimit};
use crate::Plugin;
use crate::builtin::testing::{cx, req};

fn render(m: &dyn Collector) -> String {
    let mut enc = Encoder::new(Format::Prometheus);
    m.collect(&mut enc);
    enc.finish()
}

/// 2 requests per minute per route.
fn config(backend: Backend) -> RateLimitConfig {
    RateLimitConfig {
        limits: LimitSource::Fixed(vec![Limit {
            requests: 2,
            per: Duration::from_secs(60),
            algorithm: Algorithm::SlidingWindow,
            burst: None,
        }]),
        key: vec![KeyPart::Route],
        backend,
        headers: RateLimitHeaders::default(),
        max_keys: 100,
        approximate: None,
    }
}

#[tokio::test]
async fn decisions_are_counted_per_route_and_survive_a_rebuild() {
    let limiters = Limiters::default();
    let metrics = limiters.prepare_metrics(["orders", "users"]);
    let config = config(Backend::Memory);
    let plugin = RateLimit::new(&config, Arc::new(HashMap::new()), &limiters).unwrap();
    for _ in 0..3 {
        let mut c = cx();
        c.route = Some(Arc::from("orders"));
        plugin
            .on_access(&mut c, &mut req("GET", &[]))
            .await
            .unwrap();
    }
    plugin
        .on_access(&mut cx(), &mut req("GET", &[]))
        .await
        .unwrap();
    let text = render(&*metrics);
    for line in [
        "gatehouse_ratelimit_decisions_total{route=\"orders\",result=\"allowed\"} 2",
        "gatehouse_ratelimit_decisions_total{route=\"orders\",result=\"limited\"} 1",
        "gatehouse_ratelimit_decisions_total{route=\"orders\",result=\"error\"} 0",
        "gatehouse_ratelimit_decisions_total{route=\"users\",result=\"allowed\"} 0",
        "gatehouse_ratelimit_decisions_total{route=\"\",result=\"allowed\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // No Redis store: no store-state gauge.
    assert!(!text.contains("gatehouse_ratelimit_store_state"), "{text}");
    // A reload keeps the counters of routes that remain and drops the others.
    let next = limiters.prepare_metrics(["orders"]);
    let text = render(&*next);
    assert!(
        text.contains("{route=\"orders\",result=\"allowed\"} 2"),
        "{text}"
    );
    assert!(!text.contains("users"), "{text}");
}

#[tokio::test]
async fn store_state_follows_the_breaker() {
    // A Redis that refuses connections: the first decision opens the circuit.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = gatehouse_config::model::StoreConfig {
        redis: Some(gatehouse_config::model::RedisStore {
            url: format!("redis://127.0.0.1:{port}"),
            timeout: Duration::from_millis(20),
            connections: 1,
            on_failure: gatehouse_config::model::StoreFailure::FailClosed,
            retry_after: Duration::from_secs(30),
        }),
    };
    let limiters = Limiters::new(&store).unwrap();
    let metrics = limiters.prepare_metrics(["r"]);
    assert!(
        render(&*metrics).contains("gatehouse_ratelimit_store_state{backend=\"redis\"} 0"),
        "{}",
        render(&*metrics)
    );
    let config = config(Backend::Redis);
    let plugin = RateLimit::new(&config, Arc::new(HashMap::new()), &limiters).unwrap();
    let mut c = cx();
    c.route = Some(Arc::from("r"));
    plugin
        .on_access(&mut c, &mut req("GET", &[]))
        .await
        .unwrap();
    let text = render(&*metrics);
    assert!(
        text.contains("gatehouse_ratelimit_store_state{backend=\"redis\"} 1"),
        "{text}"
    );
    assert!(text.contains("{route=\"r\",result=\"error\"} 1"), "{text}");
}
