//! The pooled HTTP client of a cluster.

mod connector;
mod tls;

use std::time::Duration;

use gatehouse_config::model::{Upstream, UpstreamProtocol};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::{Error, ProxyBody};

pub(crate) use connector::{ConnectTimedOut, Connector};

/// TCP keep-alive probes on upstream connections start after this much idleness.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The client type: one pool per cluster, keyed by target.
pub(crate) type HttpClient = Client<Connector, ProxyBody>;

/// Builds the client of a cluster: connector (TCP + optional TLS), pool and protocol settings.
pub(crate) fn build(cfg: &Upstream) -> Result<HttpClient, Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(TCP_KEEPALIVE));
    http.set_connect_timeout(Some(cfg.timeouts.connect));

    let tls = cfg
        .tls
        .as_ref()
        .map(|t| tls::settings(&cfg.name, t, cfg.protocol))
        .transpose()?;
    let connector = Connector::new(http, tls, cfg.timeouts.connect);

    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(cfg.timeouts.idle)
        .pool_max_idle_per_host(cfg.pool.max_idle_per_target);
    if cfg.protocol == UpstreamProtocol::Http2 {
        builder.http2_only(true);
    }
    Ok(builder.build(connector))
}
