//! TCP via hyper-util's `HttpConnector`, then rustls (aws-lc-rs, web PKI roots) for `https` URLs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gatehouse_upstream::MaybeTlsStream;
use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tower_service::Service;

use super::HttpError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to `http` and `https` URLs within a connect timeout.
#[derive(Clone)]
pub(super) struct Connector {
    http: HttpConnector,
    tls: TlsConnector,
    timeout: Duration,
}

impl Connector {
    pub(super) fn new(timeout: Duration) -> Result<Connector, HttpError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Transport(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Connector {
            http,
            tls: TlsConnector::from(Arc::new(config)),
            timeout,
        })
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
                if uri.scheme_str() != Some("https") {
                    return Ok::<_, BoxError>(MaybeTlsStream::Plain(tcp));
                }
                let host = uri.host().ok_or("URL has no host")?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(host.to_owned())?;
                let stream = tls.connect(name, tcp.into_inner()).await?;
                Ok(MaybeTlsStream::Tls(Box::new(TokioIo::new(stream))))
            };
            tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| format!("connect timed out after {timeout:?}"))?
        })
    }
}
