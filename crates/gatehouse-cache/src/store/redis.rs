//! Redis storage: one string key per variant (`prefix` + variant key) and one per resource index
//! (`prefix` + primary key), each with a TTL of freshness plus the stale windows. Every command is
//! bounded by the configured timeout; a failure is an [`Error`] the caller turns into a miss.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use bytes::Bytes;
use gatehouse_config::model::CacheRedis;
use http::HeaderName;

use super::Purge;
use crate::{Entry, Error};

/// The Redis backend.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl RedisStore {
    /// A lazily connected store (Redis need not be up). Fails only on an invalid URL. Must be
    /// called within a Tokio runtime.
    pub fn new(cfg: &CacheRedis) -> Result<RedisStore, Error> {
        let conn = gatehouse_store::redis::connect(&cfg.url, cfg.timeout)
            .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(RedisStore {
            conn,
            prefix: cfg.prefix.clone(),
            timeout: cfg.timeout,
        })
    }

    async fn run<T: ::redis::FromRedisValue>(&self, cmd: ::redis::Cmd) -> Result<T, Error> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Error::Unavailable(format!("redis: {e}"))),
            Err(_) => Err(Error::Unavailable(format!(
                "redis: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    pub(super) async fn index(&self, primary: &str) -> Result<Option<Arc<[HeaderName]>>, Error> {
        let value: Option<String> = self
            .run(
                ::redis::cmd("GET")
                    .arg(format!("{}{primary}", self.prefix))
                    .clone(),
            )
            .await?;
        Ok(value.map(|v| {
            v.split('\n')
                .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
                .collect()
        }))
    }

    pub(super) async fn entry(&self, variant: &str) -> Result<Option<Arc<Entry>>, Error> {
        let value: Option<Vec<u8>> = self
            .run(
                ::redis::cmd("GET")
                    .arg(format!("{}{variant}", self.prefix))
                    .clone(),
            )
            .await?;
        Ok(value
            .and_then(|v| Entry::decode(Bytes::from(v)))
            .map(Arc::new))
    }

    pub(super) async fn put(
        &self,
        primary: &str,
        vary: &[HeaderName],
        variant: &str,
        entry: &Entry,
        ttl: Duration,
    ) -> Result<(), Error> {
        let ms = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        let names: Vec<&str> = vary.iter().map(HeaderName::as_str).collect();
        let mut pipe = ::redis::pipe();
        pipe.cmd("SET")
            .arg(format!("{}{primary}", self.prefix))
            .arg(names.join("\n"))
            .arg("PX")
            .arg(ms)
            .ignore()
            .cmd("SET")
            .arg(format!("{}{variant}", self.prefix))
            .arg(entry.encode().as_ref())
            .arg("PX")
            .arg(ms)
            .ignore();
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Unavailable(format!("redis: {e}"))),
            Err(_) => Err(Error::Unavailable("redis: no answer in time".into())),
        }
    }

    /// Removes what `purge` names with `SCAN MATCH` + `UNLINK`; returns how many entries went.
    pub(super) async fn purge(&self, purge: &Purge) -> Result<u64, Error> {
        let stem = match purge {
            Purge::Key(k) => format!("{}{}|*", glob_escape(&self.prefix), glob_escape(k)),
            Purge::Prefix(p) => format!("{}{}*", glob_escape(&self.prefix), glob_escape(p)),
        };
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .run(
                    ::redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&stem)
                        .arg("COUNT")
                        .arg(1000)
                        .clone(),
                )
                .await?;
            if !keys.is_empty() {
                removed += keys.iter().filter(|k| k.contains('#')).count() as u64;
                let _: u64 = self.run(::redis::cmd("UNLINK").arg(&keys).clone()).await?;
            }
            cursor = next;
            if cursor == 0 {
                return Ok(removed);
            }
        }
    }
}

/// Escapes Redis glob metacharacters.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
