//! Chain compilation (global + route plugins, overrides, priorities) and the phase runners.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gatehouse_config::model::{
    CorsConfig, HeaderOps, IpRestrictionConfig, OriginMatch, PluginConfig, PluginSpec,
    RequestIdConfig, RequestSizeLimitConfig,
};
use http::{HeaderName, HeaderValue, Method, StatusCode, request, response};

use super::*;

fn globals_of(specs: &[PluginSpec]) -> Result<BuiltGlobals> {
    Chain::build_globals(specs, &BuildContext::default())
}

fn compile_route(globals: &BuiltGlobals, route: &[PluginSpec]) -> Result<Chain> {
    Chain::compile(globals, route, None, &BuildContext::default())
}
use crate::problem::problem_response;

// === helpers ===

fn spec(config: PluginConfig) -> PluginSpec {
    PluginSpec {
        priority: None,
        enabled: true,
        config,
    }
}

fn with_priority(priority: i32, config: PluginConfig) -> PluginSpec {
    PluginSpec {
        priority: Some(priority),
        enabled: true,
        config,
    }
}

fn disabled(config: PluginConfig) -> PluginSpec {
    PluginSpec {
        priority: None,
        enabled: false,
        config,
    }
}

fn request_id() -> PluginConfig {
    PluginConfig::RequestId(RequestIdConfig {
        header: HeaderName::from_static("x-request-id"),
        trust_incoming: true,
        echo_in_response: true,
    })
}

fn ip(allow: &[&str], deny: &[&str]) -> PluginConfig {
    PluginConfig::IpRestriction(IpRestrictionConfig {
        allow: allow.iter().map(|s| s.parse().unwrap()).collect(),
        deny: deny.iter().map(|s| s.parse().unwrap()).collect(),
        status: 403,
    })
}

fn cors() -> PluginConfig {
    PluginConfig::Cors(CorsConfig {
        allow_origins: vec![OriginMatch::Exact("https://a.test".to_owned())],
        allow_methods: vec![Method::GET],
        allow_headers: vec![],
        expose_headers: vec![],
        allow_credentials: false,
        max_age: None,
    })
}

fn size(max_bytes: u64) -> PluginConfig {
    PluginConfig::RequestSizeLimit(RequestSizeLimitConfig { max_bytes })
}

fn req_headers(name: &'static str, value: &'static str) -> PluginConfig {
    PluginConfig::RequestHeaders(HeaderOps {
        set: vec![(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )],
        ..HeaderOps::default()
    })
}

fn resp_headers() -> PluginConfig {
    PluginConfig::ResponseHeaders(HeaderOps::default())
}

fn cx() -> RequestContext {
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    RequestContext::new("id-1".to_owned(), SocketAddr::new(ip, 1234), ip, "http")
}

fn parts(method: &str, headers: &[(&str, &str)]) -> request::Parts {
    let mut b = http::Request::builder().method(method).uri("/");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn record() -> LogRecord {
    LogRecord {
        method: Method::GET,
        path: "/".to_owned(),
        status: StatusCode::OK,
        upstream_target: None,
        latency: Duration::from_millis(1),
        upstream_latency: None,
        retries: 0,
    }
}

/// A plugin that records every hook it sees, and can answer in `on_access`.
struct Recorder {
    name: &'static str,
    priority: i32,
    refuse: bool,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn note(&self, hook: &str) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{}:{hook}", self.name));
    }
}

#[async_trait]
impl Plugin for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }
    fn priority(&self) -> i32 {
        self.priority
    }
    fn phases(&self) -> Phases {
        Phases::ACCESS.with(Phases::RESPONSE).with(Phases::LOG)
    }
    async fn on_access(&self, cx: &mut RequestContext, _req: &mut request::Parts) -> Result<Flow> {
        self.note("access");
        Ok(if self.refuse {
            Flow::Respond(problem_response(
                StatusCode::UNAUTHORIZED,
                "no",
                &cx.request_id,
            ))
        } else {
            Flow::Continue
        })
    }
    async fn on_response(
        &self,
        _cx: &mut RequestContext,
        _resp: &mut response::Parts,
    ) -> Result<()> {
        self.note("response");
        Ok(())
    }
    fn on_log(&self, _cx: &RequestContext, _record: &LogRecord) {
        self.note("log");
    }
}

fn recorders(specs: &[(&'static str, i32, bool)]) -> (Chain, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let entries = specs
        .iter()
        .map(|&(name, priority, refuse)| Entry {
            priority,
            plugin: Arc::new(Recorder {
                name,
                priority,
                refuse,
                seen: seen.clone(),
            }),
        })
        .collect();
    (Chain::from_entries(entries), seen)
}

// === compile ===

#[test]
fn default_priorities_order_the_chain() {
    let globals = globals_of(&[
        spec(resp_headers()),
        spec(req_headers("x-a", "1")),
        spec(size(10)),
        spec(cors()),
        spec(ip(&[], &[])),
        spec(request_id()),
    ])
    .unwrap();
    let chain = Chain::global(&globals);
    assert_eq!(
        chain.names(),
        [
            "request_id",
            "ip_restriction",
            "cors",
            "request_size_limit",
            // Equal priorities keep declaration order.
            "response_headers",
            "request_headers",
        ]
    );
    assert_eq!(chain.request.len(), 1, "only request_id has on_request");
    assert_eq!(chain.access.len(), 3);
    assert_eq!(
        chain.upstream_request.len(),
        2,
        "request_id and request_headers"
    );
    assert_eq!(
        chain.response.len(),
        3,
        "request_id, cors, response_headers"
    );
    assert!(chain.log.is_empty());
}

#[test]
fn priority_override_reorders() {
    let globals = globals_of(&[spec(cors()), spec(ip(&[], &[]))]).unwrap();
    let chain = compile_route(&globals, &[with_priority(50_000, cors())]).unwrap();
    assert_eq!(chain.names(), ["cors", "ip_restriction"]);
}

#[tokio::test]
async fn route_plugin_replaces_the_global_one() {
    let globals = globals_of(&[spec(ip(&[], &["0.0.0.0/0"]))]).unwrap();
    let mut req = parts("GET", &[]);

    let global_only = compile_route(&globals, &[]).unwrap();
    let mut cx1 = cx();
    assert!(matches!(
        global_only.on_access(&mut cx1, &mut req).await.unwrap(),
        Flow::Respond(_)
    ));
    assert_eq!(cx1.short_circuit, Some("ip_restriction"));

    let overridden = compile_route(&globals, &[spec(ip(&["192.0.2.0/24"], &[]))]).unwrap();
    assert_eq!(
        overridden.names(),
        ["ip_restriction"],
        "replaced, not added"
    );
    let mut cx2 = cx();
    assert!(matches!(
        overridden.on_access(&mut cx2, &mut req).await.unwrap(),
        Flow::Continue
    ));
    assert_eq!(cx2.short_circuit, None);
}

#[test]
fn disabled_route_plugin_removes_the_global_one() {
    let globals = globals_of(&[spec(ip(&[], &["0.0.0.0/0"])), spec(size(1))]).unwrap();
    let chain = compile_route(&globals, &[disabled(ip(&[], &[]))]).unwrap();
    assert_eq!(chain.names(), ["request_size_limit"]);
    // A disabled global is never built.
    let globals = globals_of(&[disabled(size(1))]).unwrap();
    assert!(globals.is_empty());
}

#[tokio::test]
async fn route_plugins_join_the_globals() {
    let globals = globals_of(&[spec(request_id())]).unwrap();
    let chain = compile_route(&globals, &[spec(req_headers("x-env", "prod"))]).unwrap();
    assert_eq!(chain.names(), ["request_id", "request_headers"]);
    let mut cx = cx();
    let mut req = parts("GET", &[]);
    assert!(matches!(
        chain.on_upstream_request(&mut cx, &mut req).await.unwrap(),
        Flow::Continue
    ));
    assert_eq!(req.headers["x-env"], "prod");
    assert_eq!(req.headers["x-request-id"], "id-1");
}

// === runners ===

#[tokio::test]
async fn short_circuit_stops_later_plugins_in_the_phase() {
    // ip_restriction refuses before request_size_limit lowers the body limit.
    let globals = globals_of(&[spec(size(10)), spec(ip(&[], &["192.0.2.0/24"]))]).unwrap();
    let chain = compile_route(&globals, &[]).unwrap();
    let mut cx = cx();
    let mut req = parts("POST", &[]);
    let Flow::Respond(resp) = chain.on_access(&mut cx, &mut req).await.unwrap() else {
        panic!("expected a refusal");
    };
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(cx.short_circuit, Some("ip_restriction"));
    assert_eq!(
        cx.max_body_bytes,
        u64::MAX,
        "request_size_limit did not run"
    );
}

#[tokio::test]
async fn cors_preflight_answers_before_lower_priority_plugins() {
    let globals = globals_of(&[spec(size(0)), spec(cors())]).unwrap();
    let chain = compile_route(&globals, &[]).unwrap();
    let mut cx1 = cx();
    let mut req = parts(
        "OPTIONS",
        &[
            ("origin", "https://a.test"),
            ("access-control-request-method", "GET"),
            ("content-length", "5"),
        ],
    );
    let Flow::Respond(resp) = chain.on_access(&mut cx1, &mut req).await.unwrap() else {
        panic!("expected the preflight answer");
    };
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(cx1.short_circuit, Some("cors"));
    // The response phase runs over the plugin's answer too; request_id echoes.
    let globals = globals_of(&[spec(cors()), spec(request_id())]).unwrap();
    let chain = compile_route(&globals, &[]).unwrap();
    let mut cx2 = cx();
    let Flow::Respond(resp) = chain.on_access(&mut cx2, &mut req).await.unwrap() else {
        panic!("expected the preflight answer");
    };
    let (mut head, _) = resp.into_parts();
    chain.on_response(&mut cx2, &mut head).await.unwrap();
    assert_eq!(head.headers["x-request-id"], "id-1");
    assert_eq!(
        head.headers["access-control-allow-origin"],
        "https://a.test"
    );
}

#[tokio::test]
async fn recorded_order_short_circuit_response_and_log() {
    let (chain, seen) = recorders(&[
        ("low", 1, false),
        ("auth", 15_000, true),
        ("high", 30_000, false),
    ]);
    assert_eq!(chain.names(), ["high", "auth", "low"]);
    let mut cx = cx();
    let mut req = parts("GET", &[]);
    let flow = chain.on_access(&mut cx, &mut req).await.unwrap();
    assert!(matches!(flow, Flow::Respond(ref r) if r.status() == StatusCode::UNAUTHORIZED));
    assert_eq!(cx.short_circuit, Some("auth"));
    let mut head = http::Response::new(()).into_parts().0;
    chain.on_response(&mut cx, &mut head).await.unwrap();
    chain.on_log(&cx, &record());
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "high:access",
            "auth:access",
            // "low" never saw the access phase, but the response phase and on_log run for all.
            "high:response",
            "auth:response",
            "low:response",
            "high:log",
            "auth:log",
            "low:log",
        ]
    );
}
