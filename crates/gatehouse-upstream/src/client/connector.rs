//! The connector: TCP via hyper-util's `HttpConnector`, then rustls when the cluster uses TLS.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tower_service::Service;

use super::tls::TlsSettings;
use crate::BoxError;
use crate::stream::MaybeTlsStream;

/// Connects to a target: TCP (nodelay, keep-alive), then TLS if configured, all within the
/// connect timeout.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    tls: Option<TlsSettings>,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(http: HttpConnector, tls: Option<TlsSettings>, timeout: Duration) -> Self {
        Connector { http, tls, timeout }
    }
}

impl Service<Uri> for Connector {
    type Response = MaybeTlsStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeTlsStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let tls = self.tls.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let connect = async move {
                let tcp = http.call(uri.clone()).await?;
                let Some(tls) = tls else {
                    return Ok::<_, BoxError>(MaybeTlsStream::Plain(tcp));
                };
                let name = match tls.server_name {
                    Some(name) => name,
                    None => server_name_of(&uri)?,
                };
                let stream = tls.connector.connect(name, tcp.into_inner()).await?;
                Ok(MaybeTlsStream::Tls(Box::new(TokioIo::new(stream))))
            };
            tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| ConnectTimedOut(timeout))?
        })
    }
}

/// The connect timeout elapsed (TCP + TLS).
#[derive(Debug)]
pub(crate) struct ConnectTimedOut(Duration);

impl std::fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connect timed out after {:?}", self.0)
    }
}

impl std::error::Error for ConnectTimedOut {}

/// The TLS server name of a target: its host, without IPv6 brackets.
fn server_name_of(uri: &Uri) -> Result<ServerName<'static>, BoxError> {
    let host = uri.host().ok_or("target URI has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|e| format!("invalid TLS server name {host:?}: {e}").into())
}
