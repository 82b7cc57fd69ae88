use http::HeaderValue;

use super::*;

fn accept(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
    h
}

#[test]
fn openmetrics_only_when_asked_for() {
    assert_eq!(negotiate(&HeaderMap::new()), Format::Prometheus);
    assert_eq!(negotiate(&accept("text/plain")), Format::Prometheus);
    assert_eq!(
        negotiate(&accept(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        negotiate(&accept("application/openmetrics-text; q=0, text/plain")),
        Format::Prometheus
    );
}
