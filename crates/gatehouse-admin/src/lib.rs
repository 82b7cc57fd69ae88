//! The Gatehouse admin listener: `/live`, `/ready`, `/status`, `/metrics` and `POST /admin/reload`.
//!
//! Bound to loopback by default. When a token is configured (required off loopback), every
//! endpoint but `/live` and `/ready` needs `Authorization: Bearer <token>`.

mod auth;
mod cache;
mod metering;
mod metrics;
mod routes;
mod usage;

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_core::reload::Reloader;
use tokio::net::TcpListener;

/// The admin listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding the address failed.
    #[error("admin listener cannot bind {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// State shared by the admin handlers.
pub(crate) struct AdminState {
    pub(crate) reloader: Arc<Reloader>,
    pub(crate) token: Option<String>,
    /// Keeps the reload counters registered in the gateway's metrics.
    _reload_metrics: Arc<dyn gatehouse_metrics::Collector>,
}

/// Binds the admin listener and serves it in a background task; returns the bound address.
pub async fn spawn(
    address: SocketAddr,
    token: Option<String>,
    reloader: Arc<Reloader>,
) -> Result<SocketAddr, Error> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind { address, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| Error::Bind { address, source })?;
    let app = routes::router(Arc::new(AdminState {
        _reload_metrics: metrics::register_reloads(&reloader),
        reloader,
        token,
    }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin listener stopped");
        }
    });
    tracing::info!(%local, "admin listening");
    Ok(local)
}
