//! The set of live collectors.

use std::sync::{Arc, Mutex, Weak};

use crate::encode::{Encoder, Format};

/// Something that writes its metrics into an [`Encoder`] when scraped.
pub trait Collector: Send + Sync {
    /// Writes every metric this collector owns.
    fn collect(&self, out: &mut Encoder);
}

/// Weak references to the live collectors. Registration and scraping take a lock; recording
/// never does (collectors own their atomics).
#[derive(Default)]
pub struct Registry {
    collectors: Mutex<Vec<Weak<dyn Collector>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a collector; it is dropped from the registry once its last `Arc` is gone.
    pub fn register(&self, collector: &Arc<dyn Collector>) {
        let mut list = self.collectors.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(collector));
    }

    /// Renders every live collector in `format`.
    pub fn render(&self, format: Format) -> String {
        let live: Vec<Arc<dyn Collector>> = {
            let mut list = self.collectors.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        let mut enc = Encoder::new(format);
        for c in &live {
            c.collect(&mut enc);
        }
        enc.finish()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.collectors.lock().map(|l| l.len()).unwrap_or_default();
        f.debug_struct("Registry").field("collectors", &n).finish()
    }
}
