//! Reloading the configuration from its source (file or directory), shared by SIGHUP, the file
//! watcher and the admin API.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::{Error, Gateway};

/// Outcome of the last reloads, for `/status`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStats {
    /// Successful reloads since start.
    pub succeeded: u64,
    /// Failed reloads since start.
    pub failed: u64,
    /// When the last reload was tried.
    pub last_attempt: Option<SystemTime>,
    /// The last failure, with file and line, when the last attempt failed.
    pub last_error: Option<String>,
}

/// Reloads a gateway from its configuration path.
pub struct Reloader {
    path: PathBuf,
    gateway: Gateway,
    stats: Mutex<ReloadStats>,
}

impl Reloader {
    /// A reloader for `gateway`, reading `path`.
    pub fn new(path: &Path, gateway: Gateway) -> Self {
        Reloader {
            path: path.to_owned(),
            gateway,
            stats: Mutex::new(ReloadStats::default()),
        }
    }

    /// The gateway being reloaded.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The configuration path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads, validates and applies the configuration. Blocking (file I O): call it from
    /// `spawn_blocking` in async code. On failure the running configuration keeps serving and the
    /// error is logged with its locations.
    pub fn reload(&self, trigger: &str) -> Result<u64, Error> {
        let result = gatehouse_config::load(&self.path)
            .map_err(Error::from)
            .and_then(|config| self.gateway.reload(config));
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.last_attempt = Some(SystemTime::now());
        match &result {
            Ok(version) => {
                stats.succeeded += 1;
                stats.last_error = None;
                tracing::info!(trigger, version, "configuration reloaded");
            }
            Err(e) => {
                stats.failed += 1;
                stats.last_error = Some(e.to_string());
                tracing::error!(
                    trigger,
                    "reload refused, previous configuration keeps serving: {e}"
                );
            }
        }
        result
    }

    /// Counters of past reloads.
    pub fn stats(&self) -> ReloadStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
