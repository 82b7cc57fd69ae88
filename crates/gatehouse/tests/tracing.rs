//! Tracing end to end: W3C trace context continuity and replacement (the echo upstream shows what
//! it received), B3 input rewritten to W3C, parent-based and ratio sampling, and spans decoded by a
//! real OTLP receiver (gRPC and HTTP/protobuf) with their parent/child ids and attributes,
//! including one client span per retry. An unreachable receiver never slows requests down.

use std::net::SocketAddr;
use std::time::Duration;

use gatehouse_testkit::gateway::{Reply, TestGateway, get, within};
use gatehouse_testkit::otlp::{OtlpReceiver, ReceivedSpan, spawn_otlp};
use gatehouse_testkit::yaml::PUBLIC_LISTENER_NO_ADMIN;
use gatehouse_testkit::{free_port, spawn_echo, spawn_failing};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const WAIT: Duration = Duration::from_secs(4);

/// A gateway with route `api` (`/api/{*rest}`) to `targets`, tracing as given (YAML lines
/// under `tracing:`, indented by 4), and `route_extra` lines for the route.
async fn start(targets: &[SocketAddr], tracing: &str, route_extra: &str) -> TestGateway {
    let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let yaml = format!(
        "{PUBLIC_LISTENER_NO_ADMIN}observability:\n  tracing:\n{tracing}\nupstreams:\n  backend:\n    targets: [{}]\nroutes:\n  - name: api\n    match: {{ path: {{ prefix: /api }} }}\n    upstream: backend\n{route_extra}",
        targets.join(", ")
    );
    TestGateway::start(&yaml).await
}

fn exporting(receiver: &OtlpReceiver, protocol: &str) -> String {
    format!(
        "    otlp: {{ endpoint: \"{}\", protocol: {protocol}, timeout: 2s }}\n    batch: {{ delay: 50ms }}",
        receiver.url()
    )
}

/// The single value of header `name` the echo upstream received.
fn seen(reply: &Reply, name: &str) -> Option<String> {
    let json = reply.json();
    let values = json["headers"][name].as_array()?;
    assert_eq!(values.len(), 1, "{name}: {values:?}");
    values[0].as_str().map(str::to_owned)
}

/// `(trace id, span id, flags)` of a `traceparent`, checked for shape.
fn parts(traceparent: &str) -> (String, String, String) {
    let p: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(p.len(), 4, "{traceparent}");
    assert_eq!(p[0], "00");
    assert_eq!(p[1].len(), 32);
    assert_eq!(p[2].len(), 16);
    (p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
}

fn kind(spans: &[ReceivedSpan], kind: i32) -> Vec<&ReceivedSpan> {
    spans.iter().filter(|s| s.kind == kind).collect()
}

#[tokio::test]
async fn incoming_traceparent_is_continued_and_spans_arrive_over_grpc() {
    let echo = spawn_echo().await;
    let receiver = spawn_otlp().await;
    let gw = start(&[echo.addr], &exporting(&receiver, "grpc"), "").await;
    let incoming = format!("00-{TRACE}-{PARENT}-01");
    let r = get(
        &format!("http://{}/api/users/7?x=1", gw.addr),
        &[
            ("traceparent", &incoming),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("user-agent", "trace-test/1.0"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let (trace, upstream_parent, flags) = parts(&seen(&r, "traceparent").unwrap());
    assert_eq!(trace, TRACE);
    assert_eq!(flags, "01");
    assert_ne!(
        upstream_parent, PARENT,
        "the gateway's own span is the parent"
    );
    assert_eq!(seen(&r, "tracestate").as_deref(), Some("congo=t61rcWkgMzE"));

    let spans = receiver.wait_for(2, WAIT).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let server = kind(&spans, 2)[0];
    let client = kind(&spans, 3)[0];
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id == TRACE && s.transport == "grpc")
    );
    assert_eq!(server.parent_span_id, PARENT);
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.span_id, upstream_parent);
    assert_eq!(server.service_name, "gatehouse");
    assert_eq!(server.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(server.name, "GET /api/*");
    let expect = [
        ("http.request.method", "GET"),
        ("url.path", "/api/users/7"),
        ("url.scheme", "http"),
        ("http.route", "/api/*"),
        ("http.response.status_code", "200"),
        ("server.address", "127.0.0.1"),
        ("client.address", "127.0.0.1"),
        ("user_agent.original", "trace-test/1.0"),
        ("network.protocol.version", "1.1"),
        ("gatehouse.route", "api"),
        ("gatehouse.upstream.cluster", "backend"),
    ];
    for (key, value) in expect {
        assert_eq!(server.attr(key), Some(value), "server span {key}");
    }
    assert_eq!(client.attr("server.address"), Some("127.0.0.1"));
    assert_eq!(
        client.attr("server.port"),
        Some(echo.addr.port().to_string().as_str())
    );
    assert_eq!(client.attr("http.response.status_code"), Some("200"));
    assert_eq!(client.attr("gatehouse.retry"), Some("0"));
    assert_eq!(client.attr("http.request.resend_count"), None);
}

#[tokio::test]
async fn spans_arrive_over_otlp_http_and_new_traces_start_without_a_parent() {
    let echo = spawn_echo().await;
    let receiver = spawn_otlp().await;
    let gw = start(&[echo.addr], &exporting(&receiver, "http"), "").await;
    let r = get(&format!("http://{}/api/x", gw.addr), &[]).await;
    let (trace, upstream_parent, flags) = parts(&seen(&r, "traceparent").unwrap());
    assert_eq!(flags, "01", "roots are sampled at the default ratio 1.0");
    let spans = receiver.wait_for(2, WAIT).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert!(
        spans
            .iter()
            .all(|s| s.transport == "http" && s.trace_id == trace)
    );
    let server = kind(&spans, 2)[0];
    assert_eq!(
        server.parent_span_id, "",
        "a new trace's server span is a root"
    );
    assert_eq!(kind(&spans, 3)[0].span_id, upstream_parent);
}

#[tokio::test]
async fn invalid_trace_headers_are_replaced_not_forwarded() {
    let echo = spawn_echo().await;
    let gw = start(&[echo.addr], "    sampler: { ratio: 1.0 }", "").await;
    let bad = [
        format!("00-{}-{PARENT}-01", "0".repeat(32)),
        format!("00-{TRACE}-{PARENT}-01-trailing"),
        format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
        "garbage".to_owned(),
    ];
    for value in bad {
        let r = get(
            &format!("http://{}/api/x", gw.addr),
            &[("traceparent", &value), ("tracestate", "a=1")],
        )
        .await;
        let forwarded = seen(&r, "traceparent").unwrap();
        assert_ne!(forwarded, value);
        let (trace, _, _) = parts(&forwarded);
        assert_ne!(trace, TRACE, "a new trace starts for {value}");
        assert_ne!(trace, "0".repeat(32));
        assert_eq!(
            seen(&r, "tracestate"),
            None,
            "tracestate without a valid parent"
        );
    }
    // An invalid tracestate is dropped while the valid traceparent is kept.
    let r = get(
        &format!("http://{}/api/x", gw.addr),
        &[
            ("traceparent", &format!("00-{TRACE}-{PARENT}-01")),
            ("tracestate", "Bad Key=1"),
        ],
    )
    .await;
    assert_eq!(parts(&seen(&r, "traceparent").unwrap()).0, TRACE);
    assert_eq!(seen(&r, "tracestate"), None);
}

#[tokio::test]
async fn b3_input_continues_as_w3c() {
    let echo = spawn_echo().await;
    let gw = start(&[echo.addr], "    parent_based: true", "").await;
    let url = format!("http://{}/api/x", gw.addr);
    let r = get(&url, &[("b3", &format!("{TRACE}-{PARENT}-1"))]).await;
    let (trace, span, flags) = parts(&seen(&r, "traceparent").unwrap());
    assert_eq!((trace.as_str(), flags.as_str()), (TRACE, "01"));
    assert_eq!(seen(&r, "b3"), Some(format!("{TRACE}-{span}-1")));

    let r = get(
        &url,
        &[
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", PARENT),
            ("x-b3-sampled", "0"),
        ],
    )
    .await;
    let (trace, span, flags) = parts(&seen(&r, "traceparent").unwrap());
    assert_eq!(trace, "0000000000000000a3ce929d0e0e4736");
    assert_eq!(flags, "00", "the B3 sampling decision is kept");
    for name in ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled"] {
        assert_eq!(seen(&r, name), None, "{name} is not forwarded");
    }
    assert_eq!(seen(&r, "b3"), Some(format!("{trace}-{span}-0")));
}

#[tokio::test]
async fn sampling_is_parent_based_with_a_ratio_for_roots() {
    let echo = spawn_echo().await;
    let receiver = spawn_otlp().await;
    let tracing = format!(
        "{}\n    sampler: {{ ratio: 0.0 }}",
        exporting(&receiver, "grpc")
    );
    let gw = start(&[echo.addr], &tracing, "").await;
    let url = format!("http://{}/api/x", gw.addr);
    // A root at ratio 0: not sampled, still propagated.
    let root = get(&url, &[]).await;
    let (root_trace, _, flags) = parts(&seen(&root, "traceparent").unwrap());
    assert_eq!(flags, "00");
    // An unsampled parent stays unsampled.
    let unsampled = "11111111111111111111111111111111";
    let r = get(
        &url,
        &[("traceparent", &format!("00-{unsampled}-{PARENT}-00"))],
    )
    .await;
    assert_eq!(parts(&seen(&r, "traceparent").unwrap()).2, "00");
    // A sampled parent is followed although the ratio is 0.
    let r = get(&url, &[("traceparent", &format!("00-{TRACE}-{PARENT}-01"))]).await;
    assert_eq!(parts(&seen(&r, "traceparent").unwrap()).2, "01");
    let spans = receiver.wait_for(2, WAIT).await;
    // Spans are exported in order: by the time the sampled trace's arrived, the others would have.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let spans_now = receiver.spans();
    assert_eq!(spans.len(), 2);
    assert!(
        spans_now.iter().all(|s| s.trace_id == TRACE),
        "{spans_now:#?}"
    );
    assert!(!spans_now.iter().any(|s| s.trace_id == root_trace));
}

#[tokio::test]
async fn each_retry_gets_its_own_client_span() {
    let failing = spawn_failing(503).await;
    let failing2 = spawn_failing(503).await;
    let receiver = spawn_otlp().await;
    let retry = "    retry: { attempts: 2, on: [503], backoff: { base: 1ms, max: 5ms } }\n";
    let gw = start(
        &[failing.addr, failing2.addr],
        &exporting(&receiver, "grpc"),
        retry,
    )
    .await;
    let r = get(&format!("http://{}/api/x", gw.addr), &[]).await;
    assert_eq!(r.status, 503);
    let spans = receiver.wait_for(3, WAIT).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server = kind(&spans, 2)[0];
    let mut clients = kind(&spans, 3);
    clients.sort_by_key(|s| s.attr("gatehouse.retry").map(str::to_owned));
    assert_eq!(clients.len(), 2);
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(c.parent_span_id, server.span_id);
        assert_eq!(c.attr("gatehouse.retry"), Some(i.to_string().as_str()));
        assert_eq!(c.attr("http.response.status_code"), Some("503"));
        assert_eq!(c.attr("error.type"), Some("503"));
        assert_eq!(c.status_code, 2);
    }
    assert_eq!(clients[1].attr("http.request.resend_count"), Some("1"));
    assert_ne!(clients[0].span_id, clients[1].span_id);
    assert_ne!(
        clients[0].attr("server.port"),
        clients[1].attr("server.port"),
        "the retry went to the other target"
    );
}

#[tokio::test]
async fn an_unreachable_receiver_never_blocks_requests() {
    let echo = spawn_echo().await;
    let port = free_port();
    let tracing = format!(
        "    otlp: {{ endpoint: \"http://127.0.0.1:{port}\", timeout: 1s }}\n    batch: {{ max_queue: 4, max_batch: 2, delay: 10ms }}"
    );
    let gw = start(&[echo.addr], &tracing, "").await;
    // Each request is bounded by `within` (10 s); 100 of them must all complete.
    within("100 requests with the receiver down", async {
        for _ in 0..100 {
            let r = get(&format!("http://{}/api/x", gw.addr), &[]).await;
            assert_eq!(r.status, 200);
        }
    })
    .await;
}
