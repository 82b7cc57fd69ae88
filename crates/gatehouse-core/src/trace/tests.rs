//! Unit tests of trace context parsing, propagation and sampling.

use gatehouse_plugins::TraceContext;
use http::{HeaderMap, HeaderValue};

use super::propagation::{self, extract, parse_b3_single, parse_traceparent, tracestate};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, HeaderValue::from_str(value).unwrap());
    }
    h
}

#[test]
fn version_00_traceparent_is_parsed() {
    let p = parse_traceparent(&format!("00-{TRACE}-{SPAN}-01")).unwrap();
    assert_eq!(TraceContext::hex(&p.trace_id), TRACE);
    assert_eq!(TraceContext::hex(&p.span_id), SPAN);
    assert_eq!(p.sampled, Some(true));
    let p = parse_traceparent(&format!("00-{TRACE}-{SPAN}-00")).unwrap();
    assert_eq!(p.sampled, Some(false));
}

#[test]
fn invalid_traceparents_are_refused() {
    let bad = [
        format!("00-{}-{SPAN}-01", "0".repeat(32)),
        format!("00-{TRACE}-{}-01", "0".repeat(16)),
        format!("ff-{TRACE}-{SPAN}-01"),
        format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
        format!("00-{TRACE}-{SPAN}-01-extra"),
        format!("00-{TRACE}-{SPAN}-1"),
        format!("00_{TRACE}-{SPAN}-01"),
        format!("0x-{TRACE}-{SPAN}-01"),
        String::new(),
    ];
    for b in bad {
        assert!(parse_traceparent(&b).is_none(), "{b}");
    }
}

#[test]
fn future_versions_are_read_per_spec() {
    let p = parse_traceparent(&format!("cc-{TRACE}-{SPAN}-01-what-the-future-holds")).unwrap();
    assert_eq!(TraceContext::hex(&p.trace_id), TRACE);
    assert!(parse_traceparent(&format!("cc-{TRACE}-{SPAN}-01")).is_some());
    assert!(parse_traceparent(&format!("cc-{TRACE}-{SPAN}-01x")).is_none());
}

#[test]
fn tracestate_is_validated_and_bounded() {
    let ok = headers(&[("tracestate", "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")]);
    assert_eq!(
        tracestate(&ok).as_deref(),
        Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    );
    let split = headers(&[("tracestate", "a=1"), ("tracestate", "t@sys=2")]);
    assert_eq!(tracestate(&split).as_deref(), Some("a=1,t@sys=2"));
    for bad in ["A=1", "a=1,a=2", "a", "a=x,b=y=z", "1a=x"] {
        assert!(
            tracestate(&headers(&[("tracestate", bad)])).is_none(),
            "{bad}"
        );
    }
    let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    assert!(tracestate(&headers(&[("tracestate", &many.join(","))])).is_none());
    let max: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    assert!(tracestate(&headers(&[("tracestate", &max.join(","))])).is_some());
}

#[test]
fn b3_single_and_multi_are_accepted() {
    let p = parse_b3_single(&format!("{TRACE}-{SPAN}-1")).unwrap();
    assert_eq!(TraceContext::hex(&p.trace_id), TRACE);
    assert_eq!(p.sampled, Some(true));
    assert!(p.b3);
    let short = parse_b3_single(&format!("a3ce929d0e0e4736-{SPAN}-0")).unwrap();
    assert_eq!(
        TraceContext::hex(&short.trace_id),
        "0000000000000000a3ce929d0e0e4736"
    );
    assert_eq!(short.sampled, Some(false));
    assert!(parse_b3_single("1").is_none());
    assert!(parse_b3_single(&format!("{TRACE}-{SPAN}-x")).is_none());
    let multi = headers(&[
        ("x-b3-traceid", TRACE),
        ("x-b3-spanid", SPAN),
        ("x-b3-sampled", "1"),
    ]);
    let p = extract(&multi).unwrap();
    assert_eq!(TraceContext::hex(&p.span_id), SPAN);
    assert_eq!(p.sampled, Some(true));
}

#[test]
fn valid_traceparent_wins_over_b3_and_invalid_falls_back() {
    let both = headers(&[
        ("traceparent", &format!("00-{TRACE}-{SPAN}-01")),
        ("b3", &format!("{}-{SPAN}-1", "1".repeat(32))),
    ]);
    assert!(!extract(&both).unwrap().b3);
    let bad_w3c = headers(&[
        ("traceparent", "garbage"),
        ("b3", &format!("{TRACE}-{SPAN}-1")),
    ]);
    assert!(extract(&bad_w3c).unwrap().b3);
    assert!(extract(&headers(&[("traceparent", "garbage")])).is_none());
}

#[test]
fn inject_replaces_every_trace_header() {
    let mut h = headers(&[
        ("traceparent", "garbage"),
        ("tracestate", "x=1"),
        ("x-b3-traceid", TRACE),
        ("x-b3-spanid", SPAN),
    ]);
    propagation::inject(&mut h, &[1; 16], &[2; 8], true, None, true);
    assert_eq!(
        h["traceparent"],
        format!("00-{}-{}-01", "01".repeat(16), "02".repeat(8)).as_str()
    );
    assert!(h.get("tracestate").is_none());
    assert!(h.get("x-b3-traceid").is_none() && h.get("x-b3-spanid").is_none());
    assert_eq!(
        h["b3"],
        format!("{}-{}-1", "01".repeat(16), "02".repeat(8)).as_str()
    );
}

fn tracer(ratio: f64, parent_based: bool) -> super::Tracer {
    super::Tracer {
        ratio,
        parent_based,
        exporter: None,
        routes: Default::default(),
    }
}

#[test]
fn ratio_sampling_uses_the_trace_id_low_bytes() {
    let t = tracer(0.5, true);
    let mut low = [0u8; 16];
    low[8] = 0x10;
    let mut high = [0u8; 16];
    high[8] = 0xf0;
    assert!(t.ratio_sample(&low));
    assert!(!t.ratio_sample(&high));
    assert!(tracer(1.0, true).ratio_sample(&high));
    assert!(!tracer(0.0, true).ratio_sample(&low));
}

#[test]
fn without_an_exporter_roots_are_unsampled_and_parents_followed() {
    let t = tracer(1.0, true);
    let root = t.start(&HeaderMap::new());
    assert!(!root.sampled);
    assert_ne!(root.trace_id, [0; 16]);
    assert_eq!(root.parent_span_id, None);
    let h = headers(&[("traceparent", &format!("00-{TRACE}-{SPAN}-01"))]);
    let child = t.start(&h);
    assert!(child.sampled);
    assert_eq!(TraceContext::hex(&child.trace_id), TRACE);
    assert_eq!(
        child.parent_span_id.map(|p| TraceContext::hex(&p)),
        Some(SPAN.to_owned())
    );
    assert_ne!(TraceContext::hex(&child.span_id), SPAN);
    // Not parent-based: the (exporter-less) sampler decides.
    assert!(!tracer(1.0, false).start(&h).sampled);
}

#[test]
fn spans_written_on_the_request_path_decode_as_otlp() {
    use prost::Message;

    use super::export::encode_request;
    use super::otlp::{self, ExportTraceServiceRequest, Resource};
    use super::wire::{SpanHead, SpanWriter};

    let trace = TraceContext {
        trace_id: [7; 16],
        span_id: [1; 8],
        parent_span_id: Some([2; 8]),
        sampled: true,
        tracestate: Some("k=v".to_owned()),
        b3: false,
    };
    let mut w = SpanWriter::new(&SpanHead {
        trace: &trace,
        span_id: [1; 8],
        parent: Some([2; 8]),
        name: &["GET", "/a/*"],
        kind: 2,
        times: (1_000, 300_000_000_000),
    });
    w.str("url.path", "/a/ü");
    w.int("http.response.status_code", 503);
    w.int("gatehouse.retry", 0);
    let spans = [w.finish(true, 1)];
    let resource = Resource {
        attributes: vec![otlp::string("service.name", "gw")],
    };
    let decoded =
        ExportTraceServiceRequest::decode(&encode_request(&resource, &spans)[..]).unwrap();
    let rs = &decoded.resource_spans[0];
    assert_eq!(rs.resource, Some(resource));
    let scope = &rs.scope_spans[0];
    assert_eq!(scope.scope.as_ref().unwrap().name, "gatehouse");
    let span = &scope.spans[0];
    let expected = otlp::Span {
        trace_id: vec![7; 16],
        span_id: vec![1; 8],
        trace_state: "k=v".to_owned(),
        parent_span_id: vec![2; 8],
        name: "GET /a/*".to_owned(),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 300_000_000_000,
        attributes: vec![
            otlp::string("url.path", "/a/ü"),
            otlp::int("http.response.status_code", 503),
            otlp::int("gatehouse.retry", 0),
        ],
        status: Some(otlp::Status {
            message: String::new(),
            code: 2,
        }),
        flags: 1,
    };
    assert_eq!(span, &expected);
}
