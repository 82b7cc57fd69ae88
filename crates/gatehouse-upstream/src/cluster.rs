//! The cluster: targets, balancer, pooled client and health, as the data plane uses them.

mod target;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::{Balance, Upstream, UpstreamProtocol};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use tokio::task::AbortHandle;

use crate::balance::{self, Balancer, TargetSet};
use crate::breaker::{Admission, CircuitStatus, Circuits, Unavailable};
use crate::budget::RetryBudget;
use crate::bulkhead::Bulkhead;
use crate::client::{self, HttpClient};
use crate::health::active::Checker;
use crate::retry::CallStats;
use crate::{Error, ProxyBody};

pub(crate) use target::TargetState;

/// An upstream cluster: its targets, balancing policy, connection pool and health state.
///
/// Built once per configured upstream and shared behind an `Arc`; all methods take `&self`.
/// Dropping the last `Arc` stops the active health checker.
pub struct Cluster {
    config: Upstream,
    targets: Arc<[Arc<TargetState>]>,
    balancer: Box<dyn Balancer>,
    client: HttpClient,
    scheme: Scheme,
    checker: Option<AbortHandle>,
    circuits: Option<Arc<Circuits>>,
    bulkhead: Option<Bulkhead>,
    retry_budget: Option<RetryBudget>,
    call_stats: CallStats,
}

/// A picked target, counted in flight until this guard is dropped.
///
/// Keep it alive until the response body has been fully sent to the client, so that
/// least-request balancing sees the real load.
pub struct Selected {
    index: usize,
    target: Arc<TargetState>,
    admission: Option<Admission>,
}

/// One target's state, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    /// The target's `host:port`.
    pub address: String,
    /// Its configured weight.
    pub weight: u32,
    /// Healthy according to active checks (always true when checks are off).
    pub healthy: bool,
    /// Currently ejected by passive health.
    pub ejected: bool,
    /// Requests in flight (selected and not yet finished).
    pub in_flight: u64,
}

impl Cluster {
    /// Builds the cluster and, when `health_check` is set, spawns its active health-check task on
    /// the current tokio runtime (stopped when the cluster is dropped).
    ///
    /// Fails on an invalid target address, an unreadable or empty CA file, an invalid TLS server
    /// name, or when health checks are on and there is no tokio runtime.
    pub fn new(cfg: &Upstream) -> Result<Arc<Cluster>, Error> {
        let targets = cfg
            .targets
            .iter()
            .map(|t| {
                let authority = Authority::try_from(t.address.as_str()).map_err(|e| {
                    Error::build(&cfg.name, format!("invalid target {:?}: {e}", t.address))
                })?;
                Ok(Arc::new(TargetState::new(
                    t.address.clone(),
                    authority,
                    t.weight.max(1),
                )))
            })
            .collect::<Result<Arc<[_]>, Error>>()?;
        let client = client::build(cfg)?;
        let scheme = if cfg.tls.is_some() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        let checker = match &cfg.health_check {
            None => None,
            Some(check) => {
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                    Error::build(&cfg.name, "health checks need a running tokio runtime")
                })?;
                let checker = Checker {
                    cluster: cfg.name.clone(),
                    check: check.clone(),
                    targets: targets.clone(),
                    client: client.clone(),
                    scheme: scheme.clone(),
                    protocol: cfg.protocol,
                };
                Some(checker.spawn(&runtime))
            }
        };
        let addresses: Vec<String> = cfg.targets.iter().map(|t| t.address.clone()).collect();
        Ok(Arc::new(Cluster {
            circuits: (cfg.resilience.circuit_breaker.as_ref())
                .map(|cb| Circuits::new(cb, &cfg.name, &addresses)),
            bulkhead: cfg.resilience.bulkhead.as_ref().map(Bulkhead::new),
            config: cfg.clone(),
            balancer: balance::build(&cfg.balance, &cfg.targets),
            targets,
            client,
            scheme,
            checker,
            retry_budget: cfg.resilience.retry_budget.as_ref().map(RetryBudget::new),
            call_stats: CallStats::default(),
        }))
    }

    /// The configuration this cluster was built from.
    pub fn config(&self) -> &Upstream {
        &self.config
    }

    /// The cluster's retry budget (`retry.budget`); `None` = unlimited.
    pub fn retry_budget(&self) -> Option<&RetryBudget> {
        self.retry_budget.as_ref()
    }

    /// The cluster's counters of retries and timeouts.
    pub fn call_stats(&self) -> &CallStats {
        &self.call_stats
    }

    /// Picks a usable (healthy, not ejected) target per the balancing policy and counts a request
    /// in flight on it. For consistent hashing the key comes from the request head, falling back
    /// to `client_ip` when absent. `None` when no target is usable (the data plane answers 503).
    pub fn select(&self, req: &http::request::Parts, client_ip: IpAddr) -> Option<Selected> {
        self.pick(req, client_ip, None).ok()
    }

    /// Like [`select`](Self::select), saying why no target can take the request: the cluster's
    /// circuit breaker or every usable target's is open (with the remaining cool-down), or no
    /// target is healthy.
    pub fn try_select(
        &self,
        req: &http::request::Parts,
        client_ip: IpAddr,
    ) -> Result<Selected, Unavailable> {
        self.pick(req, client_ip, None)
    }

    /// The cluster's bulkhead (`upstreams.<name>.bulkhead`), if configured: the data plane holds
    /// one of its permits per request until the response body ends.
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.bulkhead.as_ref()
    }

    /// The circuit breakers' states and transition counts; `None` when `circuit_breaker` is off.
    pub fn circuit_status(&self) -> Option<CircuitStatus> {
        self.circuits.as_ref().map(|c| c.status())
    }

    /// Like [`select`](Self::select) but avoids `exclude`'s target (for retries). `None` when no
    /// other target is usable. Consistent hashing picks the key's next usable target.
    pub fn select_excluding(
        &self,
        req: &http::request::Parts,
        client_ip: IpAddr,
        exclude: &Selected,
    ) -> Option<Selected> {
        self.pick(req, client_ip, Some(exclude.index)).ok()
    }

    fn pick(
        &self,
        req: &http::request::Parts,
        client_ip: IpAddr,
        exclude: Option<usize>,
    ) -> Result<Selected, Unavailable> {
        let open = |retry_after| Unavailable::CircuitOpen { retry_after };
        let mut admission = match &self.circuits {
            Some(c) => Some(Admission::cluster(c).map_err(open)?),
            None => None,
        };
        let view = Usable {
            targets: &self.targets,
            exclude,
            circuits: self.circuits.as_deref(),
        };
        if !(0..view.len()).any(|i| view.usable(i)) {
            return Err(self.unavailable());
        }
        let key = match &self.config.balance {
            Balance::ConsistentHash { key, .. } if self.balancer.uses_key() => {
                balance::request_key(key, req, client_ip)
            }
            _ => 0,
        };
        let index = (self.balancer.pick(&view, key)).ok_or_else(|| self.unavailable())?;
        let target = self
            .targets
            .get(index)
            .ok_or(Unavailable::NoTarget)?
            .clone();
        if let Some(admission) = admission.as_mut() {
            admission.target(index).map_err(open)?;
        }
        target.begin();
        Ok(Selected {
            index,
            target,
            admission,
        })
    }

    /// Why no target is usable: open target breakers (the shortest remaining cool-down), or not.
    fn unavailable(&self) -> Unavailable {
        match self.circuits.as_ref().and_then(|c| c.shortest_open()) {
            Some(retry_after) => Unavailable::CircuitOpen { retry_after },
            None => Unavailable::NoTarget,
        }
    }

    /// Sends `req` to the selected target over the pooled client and returns the response head.
    ///
    /// `req`'s URI is origin-form (path and query); the scheme and the target's authority are set
    /// here, and the version is set to the cluster's protocol. The `Host` header is left as the
    /// caller set it (when absent, HTTP/1 sends the target's authority). The connect timeout
    /// applies to TCP + TLS; the request timeout covers everything until the response head.
    ///
    /// Passive health: a connect failure, a timeout, a connection failure after connecting, or a
    /// 5xx response counts as a failure of the target; any other response is a success; an error
    /// of the request body itself (the client's side) counts as neither.
    pub async fn send(
        &self,
        target: &Selected,
        req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, Error> {
        self.send_within(target, req, self.config.timeouts.request)
            .await
    }

    /// Like [`send`](Self::send) with `timeout` instead of the cluster's per-try timeout (the
    /// caller passes the smaller of it and what is left of an overall deadline).
    pub async fn send_within(
        &self,
        target: &Selected,
        mut req: Request<ProxyBody>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, Error> {
        let state = &target.target;
        *req.uri_mut() = self.target_uri(state, req.uri())?;
        *req.version_mut() = match self.config.protocol {
            UpstreamProtocol::Http1 => Version::HTTP_11,
            UpstreamProtocol::Http2 => Version::HTTP_2,
        };
        // HTTP/1: keep a handle on the connection, to poison it if the response's framing is
        // ambiguous (the pool then never hands it out again).
        let connection = (self.config.protocol == UpstreamProtocol::Http1)
            .then(|| hyper_util::client::legacy::connect::capture_connection(&mut req));
        let result = tokio::time::timeout(timeout, self.client.request(req)).await;
        match result {
            Ok(Ok(response)) => {
                if let Some(problem) = ambiguous_framing(&response) {
                    if let Some(connected) = connection.as_ref().map(|c| c.connection_metadata())
                        && let Some(connected) = connected.as_ref()
                    {
                        connected.poison();
                    }
                    drop(response);
                    self.record(target, false);
                    return Err(Error::Other {
                        target: state.address.clone(),
                        source: problem.into(),
                    });
                }
                self.record(target, !response.status().is_server_error());
                Ok(response)
            }
            Ok(Err(e)) if e.is_connect() => {
                self.record(target, false);
                Err(Error::Connect {
                    target: state.address.clone(),
                    source: Box::new(e),
                })
            }
            Ok(Err(e)) => {
                if !is_request_body_error(&e) {
                    self.record(target, false);
                }
                Err(Error::Other {
                    target: state.address.clone(),
                    source: Box::new(e),
                })
            }
            Err(_) => {
                self.record(target, false);
                Err(Error::Timeout {
                    target: state.address.clone(),
                    timeout,
                })
            }
        }
    }

    /// Each target's address, weight, active health, passive ejection and in-flight count, in
    /// configuration order.
    pub fn status(&self) -> Vec<TargetStatus> {
        self.targets
            .iter()
            .map(|t| TargetStatus {
                address: t.address.clone(),
                weight: t.weight,
                healthy: t.health.is_active_healthy(),
                ejected: t.health.is_ejected(),
                in_flight: t.in_flight(),
            })
            .collect()
    }

    fn target_uri(&self, target: &TargetState, uri: &Uri) -> Result<Uri, Error> {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(target.authority.clone());
        parts.path_and_query = Some(
            uri.path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).map_err(|e| Error::Other {
            target: target.address.clone(),
            source: Box::new(e),
        })
    }

    fn record(&self, selected: &Selected, ok: bool) {
        if let Some(admission) = &selected.admission {
            admission.record(ok);
        }
        let target = &*selected.target;
        let Some(passive) = &self.config.passive_health else {
            return;
        };
        if target.health.record_passive(ok, passive) {
            tracing::warn!(
                cluster = %self.config.name,
                target = %target.address,
                failures = passive.consecutive_failures,
                ejection_time = ?passive.ejection_time,
                "upstream target ejected after consecutive failures"
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(checker) = &self.checker {
            checker.abort();
        }
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.config.name)
            .field("targets", &self.targets)
            .field("balancer", &self.balancer)
            .finish_non_exhaustive()
    }
}

/// Whether a client error comes from the request body the caller supplied (the downstream side).
fn is_request_body_error(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(hyper_err) = err.downcast_ref::<hyper::Error>() {
            return hyper_err.is_user();
        }
        source = err.source();
    }
    false
}

// === impl Selected ===

impl Selected {
    /// The target's `host:port`.
    pub fn address(&self) -> &str {
        &self.target.address
    }

    /// The target's position in the cluster's configuration.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for Selected {
    fn drop(&mut self) {
        self.target.end();
    }
}

impl fmt::Debug for Selected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selected")
            .field("index", &self.index)
            .field("address", &self.target.address)
            .finish()
    }
}

/// The cluster's targets as a balancer sees them.
struct Usable<'a> {
    targets: &'a [Arc<TargetState>],
    exclude: Option<usize>,
    circuits: Option<&'a Circuits>,
}

impl TargetSet for Usable<'_> {
    fn len(&self) -> usize {
        self.targets.len()
    }

    fn usable(&self, index: usize) -> bool {
        self.exclude != Some(index)
            && self
                .targets
                .get(index)
                .is_some_and(|t| t.health.is_usable())
            && self.circuits.is_none_or(|c| c.target_could_admit(index))
    }

    fn in_flight(&self, index: usize) -> u64 {
        self.targets.get(index).map_or(0, |t| t.in_flight())
    }
}

/// Why an HTTP/1 response's framing cannot be trusted, if it cannot: both `Content-Length` and
/// `Transfer-Encoding` (RFC 9112 §6.3: a sign of smuggling; the response is refused and its
/// connection closed), or a `Transfer-Encoding` other than exactly one `chunked` (hyper would read
/// it to the end of the connection and the coding would be lost on the way to the client).
fn ambiguous_framing<B>(response: &Response<B>) -> Option<&'static str> {
    let headers = response.headers();
    match chunked_codings(headers) {
        None => Some("upstream response with an unsupported Transfer-Encoding"),
        Some(n) if n > 1 => Some("upstream response with chunked applied more than once"),
        Some(1) if headers.contains_key(http::header::CONTENT_LENGTH) => {
            Some("upstream response with both Content-Length and Transfer-Encoding")
        }
        Some(_) => None,
    }
}

/// How many `chunked` codings a message's `Transfer-Encoding` lines list together; `None` when any
/// coding is not `chunked` (or is empty). A message is well framed by `Transfer-Encoding` only
/// with exactly one (RFC 9112 §6.1); the gateway decodes nothing else.
pub fn chunked_codings(headers: &http::HeaderMap) -> Option<usize> {
    let mut codings = 0;
    for value in headers.get_all(http::header::TRANSFER_ENCODING) {
        for token in value.as_bytes().split(|&b| b == b',') {
            if !token.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return None;
            }
            codings += 1;
        }
    }
    Some(codings)
}
