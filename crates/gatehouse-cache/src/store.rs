//! Where entries live: in process ([`memory`]) or in Redis ([`redis`]). Both hold two kinds of
//! records: under the primary key, the `Vary` names of the resource (the index); under each
//! variant key, one [`Entry`]. Each record expires by itself.

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::{Entry, Error};

/// What a purge removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purge {
    /// Every entry of one resource (path and normalized query; all hosts, variants, consumers).
    Key(String),
    /// Every entry whose path starts with this.
    Prefix(String),
}

impl Purge {
    /// Whether the stored key `key` is purged.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            Purge::Key(k) => key
                .strip_prefix(k.as_str())
                .is_some_and(|rest| rest.starts_with('|')),
            Purge::Prefix(p) => key.starts_with(p.as_str()),
        }
    }
}

/// A configured backend.
pub enum Store {
    /// In-process.
    Memory(memory::MemoryStore),
    /// Redis.
    Redis(redis::RedisStore),
}

impl Store {
    /// The `Vary` names stored for `primary`, if any entry exists.
    pub async fn index(&self, primary: &str) -> Result<Option<Arc<[HeaderName]>>, Error> {
        match self {
            Store::Memory(m) => Ok(m.index(primary).await),
            Store::Redis(r) => r.index(primary).await,
        }
    }

    /// The entry under `variant`.
    pub async fn entry(&self, variant: &str) -> Result<Option<Arc<Entry>>, Error> {
        match self {
            Store::Memory(m) => Ok(m.entry(variant).await),
            Store::Redis(r) => r.entry(variant).await,
        }
    }

    /// Stores `entry` under `variant` and the index under `primary`, both for `ttl`.
    pub async fn put(
        &self,
        primary: &str,
        vary: Arc<[HeaderName]>,
        variant: &str,
        entry: Arc<Entry>,
        ttl: Duration,
    ) -> Result<(), Error> {
        match self {
            Store::Memory(m) => {
                m.put(primary, vary, variant, entry, ttl).await;
                Ok(())
            }
            Store::Redis(r) => r.put(primary, &vary, variant, &entry, ttl).await,
        }
    }

    /// Removes what `purge` names; returns how many records went.
    pub async fn purge(&self, purge: &Purge) -> Result<u64, Error> {
        match self {
            Store::Memory(m) => Ok(m.purge(purge).await),
            Store::Redis(r) => r.purge(purge).await,
        }
    }
}
