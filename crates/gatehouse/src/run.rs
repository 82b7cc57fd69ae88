//! `gatehouse run`: start the gateway, the admin listener, reload triggers and signal handling.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use gatehouse_core::Gateway;
use gatehouse_core::reload::Reloader;
use tokio::signal::unix::{SignalKind, signal};

/// Runs until SIGTERM/SIGINT, then drains in-flight requests up to `server.shutdown_timeout`.
pub fn run(path: &Path, echo: Option<SocketAddr>) -> anyhow::Result<()> {
    let config = gatehouse_config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.server.worker_threads {
        builder.worker_threads(n);
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(path, config, echo))
}

async fn serve(
    path: &Path,
    config: gatehouse_config::Config,
    echo: Option<SocketAddr>,
) -> anyhow::Result<()> {
    if let Some(addr) = echo {
        let bound = gatehouse_core::echo::spawn(addr)
            .await
            .context("cannot start the echo upstream")?;
        tracing::info!(%bound, "echo upstream listening");
    }
    let shutdown_timeout = config.server.shutdown_timeout;
    let watch_files = config.server.watch;
    let admin = config.admin.clone();
    let gateway = Gateway::start(config).await?;
    let reloader = Arc::new(Reloader::new(path, gateway.clone()));
    if let Some(admin) = admin {
        gatehouse_admin::spawn(admin.address, admin.token, reloader.clone()).await?;
    }
    let _watcher = if watch_files {
        Some(crate::watch::watch(path, reloader.clone())?)
    } else {
        None
    };

    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut usr1 = signal(SignalKind::user_defined1()).context("SIGUSR1 handler")?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let r = reloader.clone();
                let _ = tokio::task::spawn_blocking(move || r.reload("SIGHUP")).await;
            }
            // logrotate: reopen the access log file.
            _ = usr1.recv() => gateway.snapshot().reopen_access_log(),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!(timeout = ?shutdown_timeout, "shutting down: draining in-flight requests");
    if gateway.shutdown(shutdown_timeout).await {
        tracing::info!("drained, exiting");
    } else {
        tracing::warn!("drain deadline reached, exiting with requests still in flight");
    }
    Ok(())
}
