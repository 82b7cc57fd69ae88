use std::sync::Arc;
use std::time::Duration;

use super::*;

struct Two {
    hits: Counter,
    latency: Histogram,
}

impl Collector for Two {
    fn collect(&self, out: &mut Encoder) {
        out.counter(
            "gatehouse_test_requests",
            "Requests.",
            &[("route", "a\"b")],
            self.hits.get(),
        );
        out.histogram(
            "gatehouse_test_seconds",
            "Latency.",
            &[("route", "a")],
            &self.latency,
        );
    }
}

#[test]
fn histogram_buckets_are_cumulative_and_quantiles_interpolate() {
    let h = Histogram::latency();
    for _ in 0..90 {
        h.observe_duration(Duration::from_micros(800)); // ≤ 1 ms bucket
    }
    for _ in 0..10 {
        h.observe_duration(Duration::from_millis(40)); // ≤ 50 ms bucket
    }
    h.observe_duration(Duration::from_secs(100)); // +Inf
    let (cumulative, total, sum) = h.snapshot();
    assert_eq!(cumulative[0], 0, "nothing ≤ 0.5 ms");
    assert_eq!(cumulative[1], 90);
    assert_eq!(cumulative[7], 100);
    assert_eq!(total, 101);
    assert!((sum - (0.072 + 0.4 + 100.0)).abs() < 1e-6, "{sum}");
    let p50 = h.quantile(0.5).unwrap();
    assert!(p50 > 0.0005 && p50 <= 0.001, "{p50}");
    let p95 = h.quantile(0.95).unwrap();
    assert!(p95 > 0.025 && p95 <= 0.05, "{p95}");
    assert_eq!(Histogram::latency().quantile(0.5), None);
}

#[test]
fn registry_renders_grouped_families_and_forgets_dropped_collectors() {
    let registry = Registry::new();
    let a = Arc::new(Two {
        hits: Counter::new(),
        latency: Histogram::latency(),
    });
    a.hits.add(3);
    a.latency.observe_duration(Duration::from_millis(2));
    let dyn_a: Arc<dyn Collector> = a.clone();
    registry.register(&dyn_a);
    let text = registry.render(Format::Prometheus);
    assert!(
        text.contains("# TYPE gatehouse_test_requests counter\n"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_test_requests_total{route=\"a\\\"b\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_test_seconds_bucket{route=\"a\",le=\"0.0025\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_test_seconds_bucket{route=\"a\",le=\"+Inf\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_test_seconds_count{route=\"a\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF"));
    let om = registry.render(Format::OpenMetrics);
    assert!(om.ends_with("# EOF\n"), "{om}");
    drop(dyn_a);
    drop(a);
    assert_eq!(registry.render(Format::Prometheus), "");
}
