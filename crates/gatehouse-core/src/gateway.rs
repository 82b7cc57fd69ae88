//! The running gateway: listeners, the current snapshot, reload and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use gatehouse_config::Config;
use gatehouse_metrics::Registry;
use tokio::sync::{mpsc, watch};

use crate::Error;
use crate::listener;
use crate::snapshot::Snapshot;

/// State shared by every connection of the gateway.
pub(crate) struct Shared {
    pub(crate) snapshot: ArcSwap<Snapshot>,
    version: AtomicU64,
    reload_lock: std::sync::Mutex<()>,
    started: Instant,
    metrics: Arc<Registry>,
    /// Request-body bytes held in memory by all connections (`server.request_buffers.total`).
    pub(crate) body_bytes: Arc<crate::upstream_call::budget::Held>,
}

/// A running gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    addrs: Arc<Vec<(String, SocketAddr)>>,
    shutdown: Arc<watch::Sender<bool>>,
    drained: Arc<tokio::sync::Mutex<Option<mpsc::Receiver<()>>>>,
}

impl Gateway {
    /// Compiles `config`, binds every listener and starts serving.
    pub async fn start(config: Config) -> Result<Gateway, Error> {
        let listeners = config.listeners.clone();
        let metrics = Arc::new(Registry::new());
        let snapshot = Snapshot::build(config, None, 1, &metrics)?;
        let shared = Arc::new(Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            version: AtomicU64::new(1),
            reload_lock: std::sync::Mutex::new(()),
            started: Instant::now(),
            metrics,
            body_bytes: Arc::default(),
        });
        let mut bound = Vec::with_capacity(listeners.len());
        let mut addrs = Vec::with_capacity(listeners.len());
        for l in &listeners {
            let b = listener::bind(l, shared.clone()).await?;
            let addr = b.tcp.local_addr().map_err(|e| Error::Listener {
                name: l.name.clone(),
                message: e.to_string(),
            })?;
            tracing::info!(listener = %l.name, %addr, tls = l.tls.is_some(), "listening");
            addrs.push((l.name.clone(), addr));
            bound.push(b);
        }
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (drain_tx, drain_rx) = mpsc::channel(1);
        for b in bound {
            tokio::spawn(listener::accept_loop(
                b,
                shutdown_rx.clone(),
                drain_tx.clone(),
            ));
        }
        Ok(Gateway {
            shared,
            addrs: Arc::new(addrs),
            shutdown: Arc::new(shutdown_tx),
            drained: Arc::new(tokio::sync::Mutex::new(Some(drain_rx))),
        })
    }

    /// The bound address of listener `name` (useful with port 0).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    /// Every listener's name and bound address.
    pub fn listener_addrs(&self) -> &[(String, SocketAddr)] {
        &self.addrs
    }

    /// The snapshot currently serving.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// The metrics registry every snapshot of this gateway registers its collectors in; render it
    /// for `GET /metrics`.
    pub fn metrics(&self) -> &Arc<Registry> {
        &self.shared.metrics
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// Compiles `config` beside the current snapshot and swaps it in atomically. In-flight
    /// requests finish on the old snapshot; unchanged upstream clusters keep their connections and
    /// health state. On error nothing changes. Listener changes need a restart (logged).
    pub fn reload(&self, config: Config) -> Result<u64, Error> {
        let _guard = self
            .shared
            .reload_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let current = self.shared.snapshot.load_full();
        if config.listeners != current.config.listeners {
            tracing::warn!("listener settings changed: they take effect after a restart");
        }
        let version = self.shared.version.load(Ordering::Acquire) + 1;
        let next = Snapshot::build(config, Some(&current), version, &self.shared.metrics)?;
        self.shared.snapshot.store(Arc::new(next));
        self.shared.version.store(version, Ordering::Release);
        Ok(version)
    }

    /// Whether shutdown has begun (readiness turns false).
    pub fn is_draining(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Stops accepting, asks every connection to close after its in-flight requests, and waits up
    /// to `deadline` for them. Returns whether everything drained in time.
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        let _ = self.shutdown.send(true);
        let Some(mut rx) = self.drained.lock().await.take() else {
            return true;
        };
        let drained =
            tokio::time::timeout(deadline, async move { while rx.recv().await.is_some() {} })
                .await
                .is_ok();
        crate::usage::flush_at_shutdown(&self.snapshot()).await;
        drained
    }
}
