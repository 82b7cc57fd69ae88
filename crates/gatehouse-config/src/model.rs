//! The validated, format-free runtime model.
//!
//! Everything here has already been checked: addresses parse, references resolve, regexes compile,
//! names are unique. The data plane builds its runtime snapshot from a [`Config`] and never sees YAML.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use ipnet::IpNet;
use regex::Regex;

mod auth;
mod cache;
mod fault;
mod limits;
mod observe;
mod paths;
mod resilience;
pub use auth::*;
pub use cache::*;
pub use fault::*;
pub use limits::*;
pub use observe::*;
pub use paths::*;
pub use resilience::*;

/// A whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Process-wide settings (`server:`).
    pub server: Server,
    /// Client-facing listeners (`listeners:`), at least one.
    pub listeners: Vec<Listener>,
    /// The admin listener (`admin:`); `None` when `admin: { enabled: false }`.
    pub admin: Option<Admin>,
    /// Upstream clusters (`upstreams:`), in declaration order, names unique.
    pub upstreams: Vec<Upstream>,
    /// Routes (`routes:`), in declaration order, names unique.
    pub routes: Vec<Route>,
    /// Global plugins (`plugins:`), run on every route.
    pub plugins: Vec<PluginSpec>,
    /// Identity headers sent to upstreams (`identity:`).
    pub identity: IdentitySettings,
    /// Consumer groups (`consumer_groups:`), names unique.
    pub consumer_groups: Vec<ConsumerGroup>,
    /// Consumers (`consumers:`), ids unique, groups resolved.
    pub consumers: Vec<Consumer>,
    /// Plans (`plans:`), names unique.
    pub plans: Vec<Plan>,
    /// Shared-state store (`store:`).
    pub store: StoreConfig,
    /// Usage metering for billing (`usage:`).
    pub usage: UsageMetering,
    /// Metrics, tracing and access log (`observability:`).
    pub observability: Observability,
    /// Where this configuration came from and its content hash.
    pub meta: ConfigMeta,
}

/// Provenance of a loaded configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMeta {
    /// Files read, in the order they were merged.
    pub files: Vec<PathBuf>,
    /// Hex SHA-256-like stable hash of the source text of all files (changes when any file changes).
    pub hash: String,
}

/// Process-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// How long SIGTERM/SIGINT wait for in-flight requests before exiting. Default 30 s.
    pub shutdown_timeout: Duration,
    /// Peers whose `X-Forwarded-*` headers are trusted. Default: none.
    pub trusted_proxies: Vec<IpNet>,
    /// Pseudonym used in the `Via` header. Default `gatehouse`.
    pub via: String,
    /// Tokio worker threads; `None` = one per core.
    pub worker_threads: Option<usize>,
    /// Watch the config files and reload on change. Default true.
    pub watch: bool,
    /// Gateway-wide load shedding (`server.load_shedding`).
    pub load_shedding: LoadShedding,
    /// What request paths are refused or rewritten before routing (`server.paths`). Default: all
    /// rules refuse.
    pub paths: PathPolicy,
    /// `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` (`server.method_override`).
    /// Default [`MethodOverride::Strip`].
    pub method_override: MethodOverride,
    /// Caps on request-body bytes the gateway holds in memory (`server.request_buffers`).
    pub request_buffers: RequestBuffers,
}

/// Caps on request-body bytes held in memory at once (retry replay buffers): past either cap a
/// request body is streamed instead (sent once, not retried), so clients that open many bodies and
/// never finish them cannot grow the gateway's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBuffers {
    /// Over all connections. Default 64 MiB.
    pub total: u64,
    /// On one client connection (all its HTTP/2 streams together). Default 1 MiB.
    pub per_connection: u64,
}

impl Default for RequestBuffers {
    fn default() -> Self {
        RequestBuffers {
            total: 64 * 1024 * 1024,
            per_connection: 1024 * 1024,
        }
    }
}

/// What the gateway does with method-override headers (`X-HTTP-Method-Override`, `X-HTTP-Method`,
/// `X-Method-Override`, `_` spellings too). They are never forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MethodOverride {
    /// Removed from every request; the request's own method is what routes and plugins see.
    #[default]
    Strip,
    /// On a `POST`, an override (`-` spellings) to `GET`, `HEAD`, `PUT`, `PATCH`, `DELETE`,
    /// `OPTIONS` or `POST` replaces the method before routing: routes, plugins and the upstream see
    /// it. Any other value, or headers that disagree, get 400. Other methods' overrides are removed.
    Honor,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            shutdown_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            via: "gatehouse".to_owned(),
            worker_threads: None,
            watch: true,
            load_shedding: LoadShedding::default(),
            paths: PathPolicy::default(),
            method_override: MethodOverride::Strip,
            request_buffers: RequestBuffers::default(),
        }
    }
}

/// One client-facing listener.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    /// Unique name.
    pub name: String,
    /// Socket address to bind (`0.0.0.0:8080`, `[::]:8443`, `127.0.0.1:0`).
    pub address: SocketAddr,
    /// TLS termination; `None` = plain HTTP/1.1 and h2c (prior knowledge).
    pub tls: Option<ListenerTls>,
    /// Protocol limits and timeouts.
    pub limits: ListenerLimits,
}

/// TLS settings of a listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerTls {
    /// Certificates; the one whose names match the client's SNI is chosen, the first is the default.
    pub certificates: Vec<Certificate>,
    /// Lowest protocol version accepted. Default TLS 1.2.
    pub min_version: TlsVersion,
    /// Client certificates (mTLS); `None` = not asked for.
    pub client_certificates: Option<ClientCertificates>,
    /// Refuse the handshake (`unrecognized_name` alert) when the client's SNI, or a missing SNI,
    /// matches no certificate, instead of serving the first (default) certificate. Default false.
    pub strict_sni: bool,
}

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Server names this certificate answers for; empty = the names in the certificate (SAN DNS).
    pub server_names: Vec<String>,
}

/// TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Limits and timeouts of a listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerLimits {
    /// Largest request head (request line + headers) in bytes; larger → 431. Default 32 KiB.
    pub max_header_bytes: usize,
    /// Most request headers; more → 431. Default 100.
    pub max_headers: usize,
    /// Largest request body in bytes, enforced while streaming; larger → 413. Default 10 MiB.
    pub max_body_bytes: u64,
    /// Time allowed to receive a whole request head; slower → 408 and close. Default 10 s.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this. Default 60 s.
    pub idle_timeout: Duration,
    /// Concurrent connections accepted; further ones wait in the kernel backlog. Default 10,000.
    pub max_connections: usize,
    /// HTTP/2 concurrent streams per connection. Default 100.
    pub http2_max_concurrent_streams: u32,
    /// Time allowed for a TLS handshake. Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// Concurrent connections from one client address (IPv6: one /64); further ones are closed
    /// at once. Peers in `server.trusted_proxies` are exempt. Default 256; 0 = unlimited.
    pub max_connections_per_ip: usize,
    /// Time allowed between two chunks of a request body; slower → 408 (or the exchange is cut
    /// when the response already started) and the upstream request is aborted. Default 30 s;
    /// zero = no limit.
    pub body_read_timeout: Duration,
    /// HTTP/2 frames that carry no request (non-ACK PING and SETTINGS, RST_STREAM, empty DATA
    /// without END_STREAM) allowed per connection in a 10 s window; more → the connection is
    /// closed. Default 1,000; 0 = unlimited.
    pub http2_control_frame_budget: u32,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_body_bytes: 10 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            http2_max_concurrent_streams: 100,
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections_per_ip: 256,
            body_read_timeout: Duration::from_secs(30),
            http2_control_frame_budget: 1_000,
        }
    }
}

/// The admin listener.
#[derive(Debug, Clone, PartialEq)]
pub struct Admin {
    /// Address to bind. Default `127.0.0.1:9901`.
    pub address: SocketAddr,
    /// Bearer token required on every admin request. Required when `address` is not loopback.
    pub token: Option<String>,
}

/// An upstream cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// Unique name, referenced by routes.
    pub name: String,
    /// Static targets, at least one.
    pub targets: Vec<Target>,
    /// Balancing policy. Default round robin.
    pub balance: Balance,
    /// Active health checking; `None` = off.
    pub health_check: Option<HealthCheck>,
    /// Passive ejection on observed failures. Default on (5 consecutive failures, 30 s).
    pub passive_health: Option<PassiveHealth>,
    /// Timeouts to the targets.
    pub timeouts: UpstreamTimeouts,
    /// HTTP version spoken to the targets. Default HTTP/1.1.
    pub protocol: UpstreamProtocol,
    /// TLS to the targets; `None` = plain TCP.
    pub tls: Option<UpstreamTls>,
    /// Connection pool limits.
    pub pool: Pool,
    /// Retries, circuit breaking and bulkheads towards this cluster.
    pub resilience: UpstreamResilience,
}

/// One target of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `host:port` (IP literal or DNS name).
    pub address: String,
    /// Relative weight, ≥ 1. Default 1.
    pub weight: u32,
}

/// Balancing policy of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Balance {
    /// Smooth weighted round robin (nginx's algorithm).
    RoundRobin,
    /// Power of two random choices on in-flight requests, weighted.
    LeastRequest,
    /// Weighted random.
    Random,
    /// Consistent hashing on a request key.
    ConsistentHash {
        /// Where the key comes from.
        key: HashKey,
        /// Ring (ketama) or Maglev.
        algorithm: HashAlgorithm,
    },
}

/// Source of a consistent-hash key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    /// `header:NAME`.
    Header(HeaderName),
    /// `cookie:NAME`.
    Cookie(String),
    /// `query:NAME`.
    Query(String),
    /// `client_ip`.
    ClientIp,
}

/// Consistent-hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// Hash ring with virtual nodes (ketama).
    Ring,
    /// Maglev lookup table (default).
    Maglev,
}

/// Active health checking.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// Path requested with GET. Default `/healthz`.
    pub path: String,
    /// `Host` header sent; default the target address.
    pub host: Option<String>,
    /// Time between checks. Default 5 s.
    pub interval: Duration,
    /// Time allowed for one check. Default 2 s.
    pub timeout: Duration,
    /// Consecutive successes to mark a target healthy. Default 2.
    pub healthy_threshold: u32,
    /// Consecutive failures to mark a target unhealthy. Default 3.
    pub unhealthy_threshold: u32,
    /// Statuses counted as success. Default 200–399.
    pub expected_statuses: Vec<StatusRange>,
}

/// An inclusive range of HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    /// Lowest status.
    pub from: u16,
    /// Highest status.
    pub to: u16,
}

impl StatusRange {
    /// Whether `status` lies in the range.
    pub fn contains(&self, status: u16) -> bool {
        (self.from..=self.to).contains(&status)
    }
}

/// Passive ejection on observed failures.
#[derive(Debug, Clone, PartialEq)]
pub struct PassiveHealth {
    /// Consecutive 5xx responses or connect failures that eject a target. Default 5.
    pub consecutive_failures: u32,
    /// How long an ejected target is skipped. Default 30 s.
    pub ejection_time: Duration,
}

impl Default for PassiveHealth {
    fn default() -> Self {
        PassiveHealth {
            consecutive_failures: 5,
            ejection_time: Duration::from_secs(30),
        }
    }
}

/// Timeouts towards the targets of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamTimeouts {
    /// TCP (+TLS) connect. Default 5 s.
    pub connect: Duration,
    /// From sending the request to receiving the response head. Default 60 s.
    pub request: Duration,
    /// Pooled idle connections are closed after this. Default 90 s.
    pub idle: Duration,
    /// Overall bound across all tries and backoffs until a response head (`total`); `None` =
    /// only the per-try timeout applies. A route's `timeout` overrides it.
    pub total: Option<Duration>,
    /// Header carrying the remaining time in milliseconds to the upstream (`deadline_header`);
    /// `None` = not sent (the default).
    pub deadline_header: Option<HeaderName>,
    /// Longest wait for the next chunk of a response body (`body`); `None` = unbounded.
    pub body: Option<Duration>,
}

impl Default for UpstreamTimeouts {
    fn default() -> Self {
        UpstreamTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(60),
            idle: Duration::from_secs(90),
            total: None,
            deadline_header: None,
            body: None,
        }
    }
}

/// HTTP version spoken to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive.
    Http1,
    /// HTTP/2 (prior knowledge over TCP, ALPN `h2` over TLS). Needed for gRPC.
    Http2,
}

/// TLS towards the targets.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamTls {
    /// SNI and name verified; default the target's host.
    pub server_name: Option<String>,
    /// PEM CA bundle; default the Mozilla roots.
    pub ca: Option<PathBuf>,
    /// Skip certificate verification (tests only). Default false.
    pub insecure_skip_verify: bool,
}

/// Connection pool limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// Idle keep-alive connections kept per target. Default 64.
    pub max_idle_per_target: usize,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            max_idle_per_target: 64,
        }
    }
}

/// A route: what to match and where to send it.
#[derive(Debug, Clone)]
pub struct Route {
    /// Unique name.
    pub name: String,
    /// Match conditions; all must hold.
    pub matcher: RouteMatch,
    /// Name of the upstream cluster (resolved: it exists).
    pub upstream: String,
    /// Tie-breaker among equally specific routes: higher wins. Default 0.
    pub priority: i32,
    /// Path rewrite applied to the normalized, matched path.
    pub rewrite: Option<Rewrite>,
    /// Send the client's `Host` to the upstream (default true); false = the target address.
    pub preserve_host: bool,
    /// Let a WebSocket handshake (`Upgrade: websocket` on a GET) through and tunnel the connection
    /// once the upstream answers 101 (default false: upgrade headers are stripped and the request
    /// is proxied as plain HTTP). No other upgrade, `h2c` included, is ever forwarded.
    pub websocket: bool,
    /// Per-route plugins; same name as a global plugin = override of its settings for this route.
    pub plugins: Vec<PluginSpec>,
    /// How the route's authentication plugins combine; `None` = `any_of`, no anonymous access.
    pub auth: Option<RouteAuth>,
    /// Per-route timeouts, bulkhead and mirroring.
    pub resilience: RouteResilience,
}

/// Match conditions of a route.
#[derive(Debug, Clone, Default)]
pub struct RouteMatch {
    /// Host patterns; empty = any host.
    pub hosts: Vec<HostMatch>,
    /// Path condition; `None` = any path.
    pub path: Option<PathMatch>,
    /// Compare the path ignoring ASCII case (`match.path.case_insensitive`; `/ADMIN` matches
    /// `prefix: /admin`). Default false: paths are case-sensitive.
    pub path_case_insensitive: bool,
    /// Methods; empty = any method.
    pub methods: Vec<Method>,
    /// Header conditions; all must hold.
    pub headers: Vec<HeaderMatch>,
    /// Query parameter conditions; all must hold.
    pub query: Vec<QueryMatch>,
}

/// A host pattern (lower-cased, without port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// `api.example.com`.
    Exact(String),
    /// `*.example.com`: stored as the suffix `.example.com`; matches one or more labels.
    Wildcard(String),
}

/// A path condition.
#[derive(Debug, Clone)]
pub enum PathMatch {
    /// The path equals this.
    Exact(String),
    /// The path equals this or continues it at a segment boundary (`/api` matches `/api/x`, not `/apix`).
    Prefix(String),
    /// A template with `{name}` segment parameters and an optional trailing `{*rest}`.
    Template(String),
    /// A regex matched against the whole path (anchored).
    Regex(Regex),
}

/// A header condition.
#[derive(Debug, Clone)]
pub struct HeaderMatch {
    /// Header name.
    pub name: HeaderName,
    /// What its value must be.
    pub value: ValueMatch,
}

/// A query parameter condition.
#[derive(Debug, Clone)]
pub struct QueryMatch {
    /// Parameter name (decoded).
    pub name: String,
    /// What its (decoded) value must be.
    pub value: ValueMatch,
}

/// A value condition.
#[derive(Debug, Clone)]
pub enum ValueMatch {
    /// Equal to this.
    Exact(String),
    /// Matching this anchored regex.
    Regex(Regex),
    /// Present, any value.
    Present,
}

/// A path rewrite.
#[derive(Debug, Clone)]
pub enum Rewrite {
    /// Remove the route's matched prefix (`/api/users/1` with prefix `/api` → `/users/1`).
    StripPrefix,
    /// Replace the route's matched prefix with this.
    ReplacePrefix(String),
    /// Replace the first match of `pattern` with `replacement` (`$1`, `${name}` captures).
    Regex {
        /// The pattern.
        pattern: Regex,
        /// The replacement.
        replacement: String,
    },
}

/// One plugin instance in a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    /// Priority override; `None` = the plugin's default priority.
    pub priority: Option<i32>,
    /// `false` on a route disables a global plugin of the same name there. Default true.
    pub enabled: bool,
    /// The plugin and its settings.
    pub config: PluginConfig,
}

/// The built-in plugins and their settings.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginConfig {
    /// `request_id`.
    RequestId(RequestIdConfig),
    /// `request_headers`.
    RequestHeaders(HeaderOps),
    /// `response_headers`.
    ResponseHeaders(HeaderOps),
    /// `ip_restriction`.
    IpRestriction(IpRestrictionConfig),
    /// `cors`.
    Cors(CorsConfig),
    /// `request_size_limit`.
    RequestSizeLimit(RequestSizeLimitConfig),
    /// `key_auth`.
    KeyAuth(KeyAuthConfig),
    /// `jwt`.
    Jwt(JwtConfig),
    /// `oauth2_introspection`.
    Introspection(IntrospectionConfig),
    /// `mtls`.
    Mtls(MtlsConfig),
    /// `rbac`.
    Rbac(RbacConfig),
    /// `opa`.
    Opa(OpaConfig),
    /// `rate_limit`.
    RateLimit(RateLimitConfig),
    /// `fault_injection`.
    FaultInjection(FaultInjectionConfig),
    /// `cache`.
    Cache(CacheConfig),
}

impl PluginConfig {
    /// The plugin's name as written in config.
    pub fn name(&self) -> &'static str {
        match self {
            PluginConfig::RequestId(_) => "request_id",
            PluginConfig::RequestHeaders(_) => "request_headers",
            PluginConfig::ResponseHeaders(_) => "response_headers",
            PluginConfig::IpRestriction(_) => "ip_restriction",
            PluginConfig::Cors(_) => "cors",
            PluginConfig::RequestSizeLimit(_) => "request_size_limit",
            PluginConfig::KeyAuth(_) => "key_auth",
            PluginConfig::Jwt(_) => "jwt",
            PluginConfig::Introspection(_) => "oauth2_introspection",
            PluginConfig::Mtls(_) => "mtls",
            PluginConfig::Rbac(_) => "rbac",
            PluginConfig::Opa(_) => "opa",
            PluginConfig::RateLimit(_) => "rate_limit",
            PluginConfig::FaultInjection(_) => "fault_injection",
            PluginConfig::Cache(_) => "cache",
        }
    }

    /// Whether this plugin authenticates (it takes part in the route's `auth` combination).
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            PluginConfig::KeyAuth(_)
                | PluginConfig::Jwt(_)
                | PluginConfig::Introspection(_)
                | PluginConfig::Mtls(_)
        )
    }
}

/// `request_id` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestIdConfig {
    /// Header carrying the id. Default `x-request-id`.
    pub header: HeaderName,
    /// Keep a well-formed id sent by the client (default true); false = always generate.
    pub trust_incoming: bool,
    /// Echo the id in the response. Default true.
    pub echo_in_response: bool,
}

/// Header operations, applied in the order remove, rename, set, add.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeaderOps {
    /// Append these (keeps existing values).
    pub add: Vec<(HeaderName, HeaderValue)>,
    /// Replace any existing values with these.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Remove these.
    pub remove: Vec<HeaderName>,
    /// Rename `from` → `to` (values kept).
    pub rename: Vec<(HeaderName, HeaderName)>,
}

/// `ip_restriction` settings: deny wins over allow; with a non-empty allow list, anything not in it is denied.
#[derive(Debug, Clone, PartialEq)]
pub struct IpRestrictionConfig {
    /// Allowed networks.
    pub allow: Vec<IpNet>,
    /// Denied networks.
    pub deny: Vec<IpNet>,
    /// Status when refused. Default 403.
    pub status: u16,
}

/// `cors` settings.
#[derive(Debug, Clone)]
pub struct CorsConfig {
    /// Allowed origins.
    pub allow_origins: Vec<OriginMatch>,
    /// Allowed methods. Default GET, HEAD, POST, PUT, PATCH, DELETE.
    pub allow_methods: Vec<Method>,
    /// Allowed request headers; empty = reflect what the preflight asks for.
    pub allow_headers: Vec<HeaderName>,
    /// Response headers exposed to scripts.
    pub expose_headers: Vec<HeaderName>,
    /// Send `Access-Control-Allow-Credentials: true`. Default false. Refused with `*` origins.
    pub allow_credentials: bool,
    /// Preflight cache lifetime (`Access-Control-Max-Age`). Default none.
    pub max_age: Option<Duration>,
}

impl PartialEq for CorsConfig {
    fn eq(&self, other: &Self) -> bool {
        self.allow_origins == other.allow_origins
            && self.allow_methods == other.allow_methods
            && self.allow_headers == other.allow_headers
            && self.expose_headers == other.expose_headers
            && self.allow_credentials == other.allow_credentials
            && self.max_age == other.max_age
    }
}

/// An allowed CORS origin.
#[derive(Debug, Clone)]
pub enum OriginMatch {
    /// Any origin (`*`).
    Any,
    /// Exactly this origin, e.g. `https://app.example.com`.
    Exact(String),
    /// An anchored regex, e.g. `^https://[a-z0-9-]+\.example\.com$`.
    Pattern(Regex),
}

impl PartialEq for OriginMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OriginMatch::Any, OriginMatch::Any) => true,
            (OriginMatch::Exact(a), OriginMatch::Exact(b)) => a == b,
            (OriginMatch::Pattern(a), OriginMatch::Pattern(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// `request_size_limit` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSizeLimitConfig {
    /// Largest request body in bytes; larger → 413 (checked on `Content-Length` and while streaming).
    pub max_bytes: u64,
}
