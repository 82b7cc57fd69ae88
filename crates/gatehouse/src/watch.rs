//! Reload on configuration file changes (debounced).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gatehouse_core::reload::Reloader;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

/// Debounce window: editors write files in several steps.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Watches `path` (file or directory); each settled change triggers one reload. The watch stops
/// when the returned value is dropped.
pub fn watch(
    path: &Path,
    reloader: Arc<Reloader>,
) -> anyhow::Result<Debouncer<notify::RecommendedWatcher, RecommendedCache>> {
    let handle = tokio::runtime::Handle::current();
    let file_name = (!path.is_dir())
        .then(|| path.file_name().map(|n| n.to_owned()))
        .flatten();
    let concerns = move |p: &Path| match &file_name {
        Some(name) => p.file_name() == Some(name.as_os_str()),
        None => p.extension().is_some_and(|e| e == "yaml" || e == "yml"),
    };
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let relevant = match result {
            Ok(events) => events.iter().any(|e| {
                (e.kind.is_modify() || e.kind.is_create() || e.kind.is_remove())
                    && e.paths.iter().any(|p| concerns(p))
            }),
            Err(_) => false,
        };
        if relevant {
            let r = reloader.clone();
            handle.spawn_blocking(move || r.reload("file change"));
        }
    })
    .context("cannot start the config watcher")?;
    // Watch the directory so that editors that replace the file (rename) are seen too.
    let target = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let target = if target.as_os_str().is_empty() {
        Path::new(".")
    } else {
        target
    };
    debouncer
        .watch(target, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", target.display()))?;
    Ok(debouncer)
}
