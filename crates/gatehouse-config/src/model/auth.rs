//! Identity: consumers, authentication methods, authorization policies (runtime model).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, Method};

/// Headers that carry the verified identity to upstreams (`identity:`). Every client-sent copy of
/// these headers is removed on every route, authenticated or not.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySettings {
    /// Subject / user id. Default `x-user-id`.
    pub user_id_header: HeaderName,
    /// Roles and scopes, comma-separated. Default `x-user-roles`.
    pub roles_header: HeaderName,
    /// Consumer id. Default `x-consumer-id`.
    pub consumer_id_header: HeaderName,
    /// Tenant id. Default `x-tenant-id`.
    pub tenant_id_header: HeaderName,
    /// Plan. Default `x-consumer-plan`.
    pub plan_header: HeaderName,
    /// Verified client certificate identity (mTLS). Default `x-client-cert-identity`.
    pub client_cert_header: HeaderName,
    /// Claim path (dot-separated, e.g. `email` or `realm_access.roles`) → header, for JWT claims.
    pub claim_headers: Vec<(String, HeaderName)>,
    /// Other gateways' identity headers, removed from every client request like the owned ones
    /// (`identity.strip_headers`; a list replaces the default [`DEFAULT_STRIP_HEADERS`]). Lower-case,
    /// `_` written as `-` (either spelling matches).
    pub strip_headers: Vec<HeaderName>,
    /// Header name prefixes removed likewise (`identity.strip_prefixes`; a list replaces the default
    /// [`DEFAULT_STRIP_PREFIXES`]). Lower-case, `_` written as `-`.
    pub strip_prefixes: Vec<String>,
}

/// Identity headers that upstreams written for other gateways and auth proxies trust (Kong,
/// oauth2-proxy, Authelia/Grafana-style auth proxies, Apache): stripped from every request by
/// default.
pub const DEFAULT_STRIP_HEADERS: &[&str] = &[
    // Kong
    "x-consumer-id",
    "x-consumer-username",
    "x-consumer-custom-id",
    "x-consumer-groups",
    "x-credential-identifier",
    "x-credential-username",
    "x-anonymous-consumer",
    "x-anonymous-groups",
    "x-authenticated-userid",
    "x-authenticated-scope",
    "x-authenticated-groups",
    // oauth2-proxy (`X-Auth-Request-*` is a default prefix)
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    // Auth proxies, web servers, SSO front ends
    "x-auth-user",
    "x-auth-userid",
    "x-auth-email",
    "x-auth-groups",
    "x-remote-user",
    "x-remote-email",
    "x-remote-groups",
    "remote-user",
    "remote-email",
    "remote-groups",
    "remote-name",
    "x-user",
    "x-userid",
    "x-user-name",
    "x-username",
    "x-user-email",
    "x-user-groups",
    "x-email",
    "x-groups",
    "x-webauth-user",
    "x-webauth-email",
    "x-webauth-name",
    "x-webauth-groups",
    "x-webauth-role",
    "x-preferred-username",
    // Client certificates as forwarded by Envoy/Istio, Traefik and nginx setups
    "x-forwarded-client-cert",
    "x-client-cert",
    "x-client-dn",
    "x-client-verify",
    "x-ssl-client-cert",
    "x-ssl-client-dn",
    "x-ssl-client-s-dn",
    "x-ssl-client-verify",
    "ssl-client-cert",
    "ssl-client-verify",
];

/// Header name prefixes stripped by default: oauth2-proxy's `X-Auth-Request-*`, Azure App
/// Service's `X-MS-Client-Principal*` and `X-MS-Token-*`, Google IAP's
/// `X-Goog-Authenticated-User-*` and `X-Goog-Iap-Jwt-Assertion`, AWS ALB's `X-Amzn-Oidc-*`,
/// Cloudflare Access's `Cf-Access-*`, Pomerium's `X-Pomerium-*`, Traefik's
/// `X-Forwarded-Tls-Client-Cert*`.
pub const DEFAULT_STRIP_PREFIXES: &[&str] = &[
    "x-auth-request-",
    "x-ms-client-principal",
    "x-ms-token-",
    "x-goog-authenticated-user-",
    "x-goog-iap-jwt-assertion",
    "x-amzn-oidc-",
    "cf-access-",
    "x-pomerium-",
    "x-forwarded-tls-client-cert",
];

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            user_id_header: HeaderName::from_static("x-user-id"),
            roles_header: HeaderName::from_static("x-user-roles"),
            consumer_id_header: HeaderName::from_static("x-consumer-id"),
            tenant_id_header: HeaderName::from_static("x-tenant-id"),
            plan_header: HeaderName::from_static("x-consumer-plan"),
            client_cert_header: HeaderName::from_static("x-client-cert-identity"),
            claim_headers: Vec::new(),
            strip_headers: DEFAULT_STRIP_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect(),
            strip_prefixes: DEFAULT_STRIP_PREFIXES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
        }
    }
}

impl IdentitySettings {
    /// Every header name the gateway owns and strips from client requests: the configured names,
    /// the claim headers, and always the default names too (an upstream that still trusts
    /// `X-User-ID` after the names were changed must not be spoofable through the gateway).
    pub fn owned_headers(&self) -> Vec<HeaderName> {
        let defaults = IdentitySettings::default();
        let mut names: Vec<HeaderName> = Vec::new();
        for settings in [self, &defaults] {
            let own = [
                &settings.user_id_header,
                &settings.roles_header,
                &settings.consumer_id_header,
                &settings.tenant_id_header,
                &settings.plan_header,
                &settings.client_cert_header,
            ];
            for name in own
                .into_iter()
                .chain(settings.claim_headers.iter().map(|(_, h)| h))
            {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }
}

/// A group of consumers sharing a plan and roles (`consumer_groups:`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerGroup {
    /// Unique name.
    pub name: String,
    /// Plan for members without their own.
    pub plan: Option<String>,
    /// Roles every member has.
    pub roles: Vec<String>,
}

/// A consumer (`consumers:`), with groups already resolved into `plan` and `roles`.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    /// Unique id.
    pub id: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// Plan (own, else the first group's that has one).
    pub plan: Option<String>,
    /// Groups it belongs to (resolved: they exist).
    pub groups: Vec<String>,
    /// Roles and scopes: own plus every group's, deduplicated, in order.
    pub roles: Vec<String>,
    /// API keys, stored only as SHA-256 hashes (lower-case hex, 64 characters).
    pub api_key_hashes: Vec<String>,
    /// Client-certificate identities that map to this consumer (mTLS).
    pub certificates: Vec<CertificateIdentity>,
    /// JWT subjects (`sub`) that map to this consumer, per issuer or any issuer.
    pub jwt_subjects: Vec<String>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A client-certificate identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CertificateIdentity {
    /// The subject's common name (`CN`).
    CommonName(String),
    /// A DNS subject alternative name.
    DnsSan(String),
    /// A URI subject alternative name (e.g. a SPIFFE id `spiffe://example.org/ns/a/sa/b`).
    UriSan(String),
}

/// How the authentication plugins of a route combine (`routes[].auth:`).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteAuth {
    /// `any_of` (default): the first method that authenticates wins; `all_of`: every method must.
    pub mode: AuthMode,
    /// Consumer used when no credentials at all are presented (anonymous access); `None` = 401.
    pub anonymous: Option<String>,
}

/// Combination mode of several authentication methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Any one method suffices.
    AnyOf,
    /// Every method must succeed.
    AllOf,
}

/// `key_auth` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyAuthConfig {
    /// Header carrying the key. Default `x-api-key`.
    pub header: HeaderName,
    /// Also accept `Authorization: ApiKey <key>`. Default true.
    pub authorization_scheme: bool,
    /// Query parameter carrying the key (removed before forwarding); `None` = not accepted (default).
    pub query_param: Option<String>,
    /// Forward the credential to the upstream. Default false.
    pub keep_credential: bool,
    /// Keys resolved from Redis in addition to the config's consumers.
    pub redis: Option<RedisKeySource>,
}

/// API keys stored in Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisKeySource {
    /// `redis://host:port/db`.
    pub url: String,
    /// Key prefix: the hash `PREFIX<sha256 hex>`. Default `apikey:`.
    pub prefix: String,
    /// Time allowed per Redis lookup. Default 50 ms.
    pub timeout: Duration,
    /// How long a found key is cached in process. Default 30 s.
    pub cache_ttl: Duration,
    /// How long an unknown key is cached as unknown. Default 5 s.
    pub negative_ttl: Duration,
    /// Most cached keys. Default 100,000.
    pub cache_size: u64,
    /// When Redis is unreachable: serve from cache (stale entries included) or deny. Default serve.
    pub on_error: RedisFailure,
}

/// Behaviour when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisFailure {
    /// Use cached entries, even expired ones; unknown keys are denied.
    ServeFromCache,
    /// Deny every key not confirmed by Redis (503).
    Deny,
}

/// `jwt` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    /// Accepted issuers (one or more).
    pub issuers: Vec<JwtIssuer>,
    /// Where the token is read from, in order. Default: `Authorization: Bearer`.
    pub sources: Vec<TokenSource>,
    /// Clock leeway for `exp`, `nbf`, `iat`. Default 30 s.
    pub leeway: Duration,
    /// Largest accepted token in bytes. Default 8 KiB.
    pub max_token_bytes: usize,
    /// Forward the credential to the upstream. Default false.
    pub keep_credential: bool,
    /// Claim path whose value(s) become roles (array or space-separated string). Default `scope`.
    pub roles_claim: Option<String>,
}

/// One trusted token issuer.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtIssuer {
    /// Expected `iss`.
    pub issuer: String,
    /// Accepted `aud` values; empty = `aud` not checked.
    pub audiences: Vec<String>,
    /// Algorithms accepted for this issuer (pinned). `none` is never accepted.
    pub algorithms: Vec<String>,
    /// Where the verification keys come from.
    pub keys: JwtKeys,
    /// `exp` required. Default true.
    pub require_exp: bool,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
    /// Claims that must have exactly this (string) value.
    pub claim_values: Vec<(String, String)>,
}

/// Verification keys of an issuer.
#[derive(Debug, Clone, PartialEq)]
pub enum JwtKeys {
    /// Inline PEM public keys or JWKs (JSON text).
    Inline(Vec<String>),
    /// HMAC secret (HS256/384/512 only).
    Secret(String),
    /// A JWKS URL, fetched at start and refreshed.
    Jwks(JwksSource),
    /// OpenID discovery document URL (`…/.well-known/openid-configuration`), whose `jwks_uri` is used.
    Discovery(JwksSource),
}

/// JWKS fetching policy.
#[derive(Debug, Clone, PartialEq)]
pub struct JwksSource {
    /// URL of the JWKS or discovery document.
    pub url: String,
    /// Lower bound on the cache lifetime (whatever `Cache-Control` says). Default 1 min.
    pub min_refresh: Duration,
    /// Upper bound on the cache lifetime. Default 1 h.
    pub max_refresh: Duration,
    /// At most one refetch per this interval on an unknown `kid`. Default 30 s.
    pub unknown_kid_interval: Duration,
    /// Time allowed per fetch. Default 5 s.
    pub timeout: Duration,
}

/// Where a bearer token is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A cookie.
    Cookie(String),
    /// A query parameter (removed before forwarding).
    Query(String),
}

/// `oauth2_introspection` settings (RFC 7662).
#[derive(Debug, Clone, PartialEq)]
pub struct IntrospectionConfig {
    /// Introspection endpoint URL.
    pub endpoint: String,
    /// Client id (HTTP Basic to the endpoint).
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Time allowed per introspection. Default 2 s.
    pub timeout: Duration,
    /// Upper bound on caching an active token (also bounded by its `exp`). Default 60 s.
    pub cache_ttl: Duration,
    /// How long an inactive token is cached. Default 5 s.
    pub negative_ttl: Duration,
    /// Endpoint slow or down: deny (default, 503) or let the request through unauthenticated.
    pub on_error: IntrospectionFailure,
    /// Forward the credential to the upstream. Default false.
    pub keep_credential: bool,
}

/// Behaviour when the introspection endpoint fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionFailure {
    /// Answer 503.
    Deny,
    /// Treat as no credentials (falls through to other methods / anonymous).
    Anonymous,
}

/// Client certificates on a TLS listener (`listeners[].tls.client_certificates`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientCertificates {
    /// PEM CA bundle(s) client certificates must chain to.
    pub ca: Vec<PathBuf>,
    /// `request` (optional) or `require`.
    pub mode: ClientCertMode,
    /// What an invalid certificate (expired, not yet valid, unknown CA) gets: a failed handshake
    /// (default) or a connection whose requests get 401 on routes that use `mtls`.
    pub on_invalid: InvalidCertAction,
}

/// What happens to an invalid client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidCertAction {
    /// The TLS handshake fails.
    FailHandshake,
    /// The handshake succeeds without a verified identity; `mtls` routes answer 401.
    Unauthorized,
}

/// Whether a client certificate is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertMode {
    /// Asked for; a connection without one is accepted (routes may still require it → 401). An
    /// invalid one fails the handshake.
    Request,
    /// Required: no or invalid certificate fails the handshake.
    Require,
}

/// `mtls` settings (route): require a verified client certificate and map it to a consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct MtlsConfig {
    /// Consumers are matched on these identities of the certificate, in order. Default all kinds.
    pub match_on: Vec<CertificateField>,
    /// Reject (401) a verified certificate that maps to no consumer. Default false (identity from
    /// the certificate alone).
    pub require_consumer: bool,
}

/// A certificate field used for mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateField {
    /// Subject CN.
    CommonName,
    /// DNS SANs.
    DnsSan,
    /// URI SANs.
    UriSan,
}

/// `rbac` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RbacConfig {
    /// Rule for every method without its own.
    pub default: RoleRule,
    /// Per-method rules.
    pub methods: Vec<(Method, RoleRule)>,
}

/// Required roles or scopes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleRule {
    /// At least one of these (empty = no condition).
    pub any_of: Vec<String>,
    /// All of these (empty = no condition).
    pub all_of: Vec<String>,
}

/// `opa` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OpaConfig {
    /// Rego policy files (compiled once per configuration).
    pub policies: Vec<PathBuf>,
    /// The rule evaluated, e.g. `data.gatehouse.decision` or `data.gatehouse.allow`.
    pub query: String,
    /// Request headers copied into the input (lower-case); others are not visible to the policy.
    pub headers: Vec<HeaderName>,
    /// An external OPA server (Data API) instead of in-process evaluation.
    pub external: Option<ExternalOpa>,
}

/// An external OPA server.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalOpa {
    /// Data API URL, e.g. `http://127.0.0.1:8181/v1/data/gatehouse/decision`.
    pub url: String,
    /// Time allowed. Default 100 ms; on timeout or error the request is denied (fail closed).
    pub timeout: Duration,
}
