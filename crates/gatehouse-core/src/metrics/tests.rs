use std::time::Duration;

use gatehouse_metrics::{Format, Registry};

use super::*;

#[test]
fn methods_and_status_classes_map_to_fixed_labels() {
    assert_eq!(METHODS[method_index(&Method::GET)], "GET");
    assert_eq!(METHODS[method_index(&Method::PATCH)], "PATCH");
    let odd = Method::from_bytes(b"PURGE").unwrap();
    assert_eq!(METHODS[method_index(&odd)], "OTHER");
    assert_eq!(STATUS_CLASSES[status_index(StatusCode::CONTINUE)], "1xx");
    assert_eq!(STATUS_CLASSES[status_index(StatusCode::NOT_FOUND)], "4xx");
    assert_eq!(
        STATUS_CLASSES[status_index(StatusCode::GATEWAY_TIMEOUT)],
        "5xx"
    );
}

#[test]
fn reasons_keep_distinct_counts_and_overflow_into_other() {
    let r = reasons::Reasons::default();
    r.inc("rate_limited");
    r.inc("jwt");
    r.inc("rate_limited");
    let mut seen = Vec::new();
    r.each(|k, n| seen.push((k.to_owned(), n)));
    assert_eq!(seen, [("rate_limited".into(), 2), ("jwt".into(), 1)]);
    let names: Vec<&'static str> = (0..30)
        .map(|i| &*Box::leak(format!("r{i}").into_boxed_str()))
        .collect();
    let r = reasons::Reasons::default();
    for n in &names {
        r.inc(n);
    }
    let mut other = 0;
    r.each(|k, n| {
        if k == "other" {
            other = n;
        }
    });
    assert_eq!(other, 6, "24 slots, 30 reasons");
}

/// A registry, listener `public` and snapshot metrics with one route `users` → `backend`.
fn one_route(
    enabled: bool,
) -> (
    Registry,
    Arc<ListenerMetrics>,
    Arc<RouteMetrics>,
    SnapshotMetrics,
) {
    let registry = Registry::new();
    let listener = ListenerMetrics::register("public", &registry);
    let route = Arc::new(RouteMetrics::new("users", "backend"));
    let snapshot = SnapshotMetrics {
        newest: Arc::default(),
        version: 0,
        enabled,
        routes: vec![route.clone()],
        by_entry: vec![route.clone()],
        unrouted: Arc::new(RouteMetrics::new(UNROUTED, UNROUTED)),
        clusters: Vec::new(),
        hash: "abc".into(),
        loaded_at: 1.0,
    };
    (registry, listener, route, snapshot)
}

#[test]
fn meter_counts_requests_bytes_and_refusals_then_releases_in_flight() {
    let (registry, listener, route, snapshot) = one_route(true);
    let mut meter = Meter::begin(&listener, &snapshot);
    assert_eq!(listener.in_flight.get(), 1);
    meter.route(&route);
    meter.data(10);
    meter.data(5);
    meter.finish(
        &Method::POST,
        StatusCode::TOO_MANY_REQUESTS,
        Some("rate_limited"),
        Duration::from_millis(3),
        None,
    );
    drop(meter);
    assert_eq!(listener.in_flight.get(), 0);
    let mut meter = Meter::begin(&listener, &snapshot);
    meter.finish(
        &Method::GET,
        StatusCode::BAD_GATEWAY,
        Some("upstream_error"),
        Duration::from_millis(3),
        Some(Duration::from_millis(2)),
    );
    drop(meter);
    let snapshot = Arc::new(snapshot);
    snapshot.activate(&registry);
    let text = registry.render(Format::Prometheus);
    for line in [
        "gatehouse_requests_total{route=\"users\",method=\"POST\",status_class=\"4xx\",cluster=\"backend\"} 1\n",
        "gatehouse_requests_total{route=\"__none__\",method=\"GET\",status_class=\"5xx\",cluster=\"__none__\"} 1\n",
        "gatehouse_response_bytes_total{route=\"users\"} 15\n",
        "gatehouse_rejections_total{route=\"users\",reason=\"rate_limited\"} 1\n",
        "gatehouse_upstream_duration_seconds_count{route=\"__none__\",cluster=\"__none__\"} 1\n",
        "gatehouse_config_info{hash=\"abc\"} 1\n",
        "gatehouse_requests_in_flight{listener=\"public\"} 0.0\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("reason=\"upstream_error\""), "{text}");
    // A newer snapshot silences this one.
    snapshot.newest.store(1, Ordering::Release);
    assert!(
        !registry
            .render(Format::Prometheus)
            .contains("gatehouse_config_info")
    );
}

#[test]
fn disabled_meter_records_nothing() {
    let (_registry, listener, route, snapshot) = one_route(false);
    let mut meter = Meter::begin(&listener, &snapshot);
    assert_eq!(listener.in_flight.get(), 0);
    meter.route(&route);
    meter.data(10);
    meter.finish(&Method::GET, StatusCode::OK, None, Duration::ZERO, None);
    drop(meter);
    assert_eq!(route.requests(), 0);
    assert_eq!(route.response_bytes.get(), 0);
    assert_eq!(listener.in_flight.get(), 0);
}
