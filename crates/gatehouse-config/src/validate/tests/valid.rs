//! Valid configurations and the model they produce.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use ipnet::IpNet;

use super::{BASE, ok};
use crate::model::*;

const FULL: &str = r#"
server: { shutdown_timeout: 1m30s, trusted_proxies: [10.0.0.0/8, "::1/128", 192.168.1.7], via: edge, worker_threads: 2, watch: false, request_buffers: { total: 8MiB, per_connection: 256KiB } }
listeners:
  - name: public
    address: 0.0.0.0:8080
    tls:
      certificates: [{ cert: certs/api.pem, key: /abs/api.key, server_names: [API.example.com] }]
      min_version: 1.3
      strict_sni: true
    limits: { max_header_bytes: 64KiB, max_headers: 50, max_body_bytes: 1MB, header_read_timeout: 5s, idle_timeout: 250ms, max_connections: 10, http2_max_concurrent_streams: 7, tls_handshake_timeout: 1h, max_connections_per_ip: 0, body_read_timeout: 2s, http2_control_frame_budget: 50 }
admin: { address: 0.0.0.0:9901, token: "s3cret" }
upstreams:
  users:
    targets: [{ address: 10.0.0.1:8080, weight: 2 }, "localhost:8081"]
    balance: { policy: consistent_hash, key: "header:X-User-Id" }
    health_check: { path: /up, host: users.internal, interval: 1s, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 4, expected_statuses: [200, "300-302"] }
    passive_health: false
    timeouts: { connect: 1s, request: 15s }
    protocol: http2
    tls: true
    pool: { max_idle_per_target: 8 }
  orders:
    targets: ["[::1]:9000"]
    balance: least_request
    passive_health: { consecutive_failures: 2 }
    tls: { server_name: orders.internal, ca: certs/ca.pem }
routes:
  - name: users
    match:
      hosts: [API.Example.com, "*.example.com"]
      path: { prefix: /api/users }
      methods: [get, POST]
      headers: { x-env: canary, X-Ver: { regex: "^2" }, x-debug: { present: true } }
      query: { lang: en, q: { present: true } }
    upstream: users
    priority: -3
    rewrite: { replace_prefix: /v2 }
    preserve_host: false
    plugins:
      - ip_restriction: { allow: [10.0.0.0/8, "2001:db8::/32", 192.168.1.7], deny: [10.1.2.3], status: 401 }
        enabled: true
  - name: orders
    match: { path: { regex: "/v[0-9]+/.*" } }
    upstream: orders
    rewrite: { regex: "^/a/(.*)$", replacement: "/b/$1" }
plugins:
  - request_id: { header: x-trace, trust_incoming: false }
  - request_headers: { add: {x-a: 1}, set: {x-b: "2"}, remove: [x-c], rename: {x-old: x-new} }
  - response_headers: {}
  - cors: { allow_origins: ["https://App.example.com", {pattern: "https://.*\\.example\\.com"}], allow_methods: [GET], allow_headers: [x-a], expose_headers: [x-b], allow_credentials: true, max_age: 600s }
    priority: 2000
  - request_size_limit: { max_bytes: 1MiB }
    enabled: false
"#;

fn request_buffers() -> crate::model::RequestBuffers {
    crate::model::RequestBuffers {
        total: 8 * 1024 * 1024,
        per_connection: 256 * 1024,
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn hn(s: &'static str) -> HeaderName {
    HeaderName::from_static(s)
}

#[test]
fn full_config_round_trips_to_the_model() {
    let c = ok(FULL);
    assert_eq!(
        c.server,
        Server {
            shutdown_timeout: Duration::from_secs(90),
            trusted_proxies: vec![net("10.0.0.0/8"), net("::1/128"), net("192.168.1.7/32")],
            via: "edge".into(),
            worker_threads: Some(2),
            watch: false,
            load_shedding: Default::default(),
            method_override: Default::default(),
            paths: Default::default(),
            request_buffers: request_buffers(),
        }
    );
    assert_eq!(
        c.listeners,
        vec![Listener {
            name: "public".into(),
            address: "0.0.0.0:8080".parse().unwrap(),
            tls: Some(ListenerTls {
                certificates: vec![Certificate {
                    cert: PathBuf::from("/etc/gatehouse/certs/api.pem"),
                    key: PathBuf::from("/abs/api.key"),
                    server_names: vec!["api.example.com".into()],
                }],
                min_version: TlsVersion::Tls13,
                client_certificates: None,
                strict_sni: true,
            }),
            limits: ListenerLimits {
                max_header_bytes: 64 * 1024,
                max_headers: 50,
                max_body_bytes: 1_000_000,
                header_read_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_millis(250),
                max_connections: 10,
                http2_max_concurrent_streams: 7,
                tls_handshake_timeout: Duration::from_secs(3600),
                max_connections_per_ip: 0,
                body_read_timeout: Duration::from_secs(2),
                http2_control_frame_budget: 50,
            },
        }]
    );
    assert_eq!(
        c.admin,
        Some(Admin {
            address: "0.0.0.0:9901".parse().unwrap(),
            token: Some("s3cret".into()),
        })
    );

    let [users, orders] = c.upstreams.as_slice() else {
        panic!("two upstreams expected: {:?}", c.upstreams);
    };
    assert_eq!(
        *users,
        Upstream {
            name: "users".into(),
            targets: vec![
                Target {
                    address: "10.0.0.1:8080".into(),
                    weight: 2
                },
                Target {
                    address: "localhost:8081".into(),
                    weight: 1
                },
            ],
            balance: Balance::ConsistentHash {
                key: HashKey::Header(hn("x-user-id")),
                algorithm: HashAlgorithm::Maglev,
            },
            health_check: Some(HealthCheck {
                path: "/up".into(),
                host: Some("users.internal".into()),
                interval: Duration::from_secs(1),
                timeout: Duration::from_millis(500),
                healthy_threshold: 1,
                unhealthy_threshold: 4,
                expected_statuses: vec![
                    StatusRange { from: 200, to: 200 },
                    StatusRange { from: 300, to: 302 },
                ],
            }),
            passive_health: None,
            timeouts: UpstreamTimeouts {
                connect: Duration::from_secs(1),
                request: Duration::from_secs(15),
                idle: Duration::from_secs(90),
                ..Default::default()
            },
            protocol: UpstreamProtocol::Http2,
            tls: Some(UpstreamTls {
                server_name: None,
                ca: None,
                insecure_skip_verify: false
            }),
            pool: Pool {
                max_idle_per_target: 8
            },
            resilience: Default::default(),
        }
    );
    assert_eq!(orders.balance, Balance::LeastRequest);
    assert_eq!(
        orders.passive_health,
        Some(PassiveHealth {
            consecutive_failures: 2,
            ejection_time: Duration::from_secs(30)
        })
    );
    assert_eq!(orders.health_check, None);
    assert_eq!(
        orders.tls,
        Some(UpstreamTls {
            server_name: Some("orders.internal".into()),
            ca: Some(PathBuf::from("/etc/gatehouse/certs/ca.pem")),
            insecure_skip_verify: false,
        })
    );

    let [r1, r2] = c.routes.as_slice() else {
        panic!("two routes expected");
    };
    assert_eq!(r1.name, "users");
    assert_eq!(
        r1.matcher.hosts,
        vec![
            HostMatch::Exact("api.example.com".into()),
            HostMatch::Wildcard(".example.com".into())
        ]
    );
    assert!(matches!(&r1.matcher.path, Some(PathMatch::Prefix(p)) if p == "/api/users"));
    assert_eq!(r1.matcher.methods, vec![Method::GET, Method::POST]);
    let headers: Vec<String> = r1
        .matcher
        .headers
        .iter()
        .map(|h| format!("{}={:?}", h.name, h.value))
        .collect();
    assert_eq!(headers.len(), 3);
    assert!(matches!(&r1.matcher.headers[0].value, ValueMatch::Exact(v) if v == "canary"));
    assert_eq!(r1.matcher.headers[1].name, hn("x-ver"));
    assert!(
        matches!(&r1.matcher.headers[1].value, ValueMatch::Regex(r) if r.as_str() == "^(?:^2)$")
    );
    assert!(matches!(r1.matcher.headers[2].value, ValueMatch::Present));
    assert_eq!(r1.matcher.query.len(), 2);
    assert_eq!(r1.matcher.query[0].name, "lang");
    assert!(matches!(r1.matcher.query[1].value, ValueMatch::Present));
    assert_eq!(r1.upstream, "users");
    assert_eq!(r1.priority, -3);
    assert!(matches!(&r1.rewrite, Some(Rewrite::ReplacePrefix(p)) if p == "/v2"));
    assert!(!r1.preserve_host);
    assert_eq!(
        r1.plugins,
        vec![PluginSpec {
            priority: None,
            enabled: true,
            config: PluginConfig::IpRestriction(IpRestrictionConfig {
                allow: vec![
                    net("10.0.0.0/8"),
                    net("2001:db8::/32"),
                    net("192.168.1.7/32")
                ],
                deny: vec![net("10.1.2.3/32")],
                status: 401,
            }),
        }]
    );
    assert!(
        matches!(&r2.matcher.path, Some(PathMatch::Regex(r)) if r.as_str() == "^(?:/v[0-9]+/.*)$")
    );
    assert!(
        matches!(&r2.rewrite, Some(Rewrite::Regex { pattern, replacement })
        if pattern.as_str() == "^/a/(.*)$" && replacement == "/b/$1")
    );
    assert!(r2.preserve_host);
    assert_eq!(r2.priority, 0);

    assert_eq!(c.plugins.len(), 5);
    assert_eq!(
        c.plugins[0].config,
        PluginConfig::RequestId(RequestIdConfig {
            header: hn("x-trace"),
            trust_incoming: false,
            echo_in_response: true,
        })
    );
    assert_eq!(
        c.plugins[1].config,
        PluginConfig::RequestHeaders(HeaderOps {
            add: vec![(hn("x-a"), HeaderValue::from_static("1"))],
            set: vec![(hn("x-b"), HeaderValue::from_static("2"))],
            remove: vec![hn("x-c")],
            rename: vec![(hn("x-old"), hn("x-new"))],
        })
    );
    assert_eq!(
        c.plugins[2].config,
        PluginConfig::ResponseHeaders(HeaderOps::default())
    );
    let PluginConfig::Cors(cors) = &c.plugins[3].config else {
        panic!("cors expected");
    };
    assert_eq!(c.plugins[3].priority, Some(2000));
    assert_eq!(
        cors.allow_origins,
        vec![
            OriginMatch::Exact("https://app.example.com".into()),
            OriginMatch::Pattern(regex::Regex::new(r"^(?:https://.*\.example\.com)$").unwrap()),
        ]
    );
    assert_eq!(cors.allow_methods, vec![Method::GET]);
    assert_eq!(cors.allow_headers, vec![hn("x-a")]);
    assert_eq!(cors.expose_headers, vec![hn("x-b")]);
    assert!(cors.allow_credentials);
    assert_eq!(cors.max_age, Some(Duration::from_secs(600)));
    assert_eq!(
        c.plugins[4],
        PluginSpec {
            priority: None,
            enabled: false,
            config: PluginConfig::RequestSizeLimit(RequestSizeLimitConfig { max_bytes: 1 << 20 }),
        }
    );
    assert_eq!(c.meta.files, vec![super::file()]);
    assert_eq!(c.meta.hash.len(), 16);
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let c = ok(BASE);
    assert_eq!(c.server, Server::default());
    assert_eq!(c.listeners[0].limits, ListenerLimits::default());
    assert_eq!(c.listeners[0].tls, None);
    assert_eq!(
        c.admin,
        Some(Admin {
            address: "127.0.0.1:9901".parse().unwrap(),
            token: None
        })
    );
    let u = &c.upstreams[0];
    assert_eq!(u.balance, Balance::RoundRobin);
    assert_eq!(u.health_check, None);
    assert_eq!(u.passive_health, Some(PassiveHealth::default()));
    assert_eq!(u.timeouts, UpstreamTimeouts::default());
    assert_eq!(u.protocol, UpstreamProtocol::Http1);
    assert_eq!(u.tls, None);
    assert_eq!(u.pool, Pool::default());
    assert!(c.routes.is_empty() && c.plugins.is_empty());
}

#[test]
fn admin_can_be_disabled_and_balance_variants_parse() {
    let c = ok(&format!(
        "{BASE}  a:\n    targets: [a:1]\n    balance: {{ policy: consistent_hash, key: client_ip, algorithm: ring }}\n    \
         health_check: true\n  b:\n    targets: [b:1]\n    balance: random\n    passive_health: {{ enabled: false }}\n\
         admin: {{ enabled: false, address: 0.0.0.0:1 }}\n"
    ));
    assert_eq!(c.admin, None);
    assert_eq!(
        c.upstreams[1].balance,
        Balance::ConsistentHash {
            key: HashKey::ClientIp,
            algorithm: HashAlgorithm::Ring
        }
    );
    assert_eq!(
        c.upstreams[1]
            .health_check
            .as_ref()
            .map(|h| h.path.as_str()),
        Some("/healthz")
    );
    assert_eq!(c.upstreams[2].balance, Balance::Random);
    assert_eq!(c.upstreams[2].passive_health, None);
}

#[test]
fn path_forms_and_template() {
    let c = ok(&format!(
        "{BASE}routes:\n  - {{ name: a, upstream: users, match: {{ path: /plain }}, rewrite: {{ strip_prefix: true }} }}\n  \
         - {{ name: b, upstream: users, match: {{ path: {{ exact: /x }} }} }}\n  \
         - {{ name: c, upstream: users, match: {{ path: {{ template: \"/users/{{id}}/{{*rest}}\" }} }} }}\n"
    ));
    assert!(matches!(&c.routes[0].matcher.path, Some(PathMatch::Prefix(p)) if p == "/plain"));
    assert!(matches!(c.routes[0].rewrite, Some(Rewrite::StripPrefix)));
    assert!(matches!(&c.routes[1].matcher.path, Some(PathMatch::Exact(p)) if p == "/x"));
    assert!(
        matches!(&c.routes[2].matcher.path, Some(PathMatch::Template(p)) if p == "/users/{id}/{*rest}")
    );
}

#[test]
fn durations_and_sizes() {
    use crate::validate::scalar::{parse_duration, parse_size};
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("5").is_err());
    assert!(parse_duration("5d").is_err());
    assert!(parse_duration("s").is_err());
    assert!(parse_duration("99999999999999999999h").is_err());
    assert_eq!(parse_size("32KiB"), Some(32 * 1024));
    assert_eq!(parse_size("10MiB"), Some(10 << 20));
    assert_eq!(parse_size("1GiB"), Some(1 << 30));
    assert_eq!(parse_size("2kb"), Some(2000));
    assert_eq!(parse_size("3 MB"), Some(3_000_000));
    assert_eq!(parse_size("12"), Some(12));
    assert_eq!(parse_size("12 parsecs"), None);
    assert_eq!(parse_size("99999999999GiB"), None);
}
