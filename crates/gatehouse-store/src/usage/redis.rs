//! Usage rows in Redis (`backend: redis`), shared by every gateway instance.
//!
//! Layout, for billing jobs that read Redis directly: one hash per UTC hour,
//! `gatehouse:usage:{YYYYMMDDHH}` (e.g. `gatehouse:usage:{2026112210}` for 10:00–10:59 UTC on
//! 2026-11-22; the braces are a Redis Cluster hash tag, so one hour is one slot). Each field is
//! `<consumer>\x1f<route>\x1f<class>` (`\x1f` = ASCII unit separator, class `1xx`…`5xx`) and its
//! value the number of requests, summed over every gateway (`HINCRBY`). A hash expires
//! `retention` after its hour ended (`EXPIREAT`).

use std::collections::BTreeMap;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use async_trait::async_trait;
use gatehouse_config::model::RedisStore;

use super::{Deltas, HOUR, UsageQuery, UsageRow, UsageStore, class_label, hour_key, parse_class};
use crate::Error;

/// Prefix of every usage key.
pub const USAGE_KEY_PREFIX: &str = "gatehouse:usage:";

/// Separator of the parts of a field.
pub const FIELD_SEPARATOR: char = '\x1f';

/// Most hours read in one round trip.
const READ_BATCH: usize = 168;

/// Hourly rows in Redis. Each hour is written in one `MULTI`/`EXEC` transaction (all of its
/// rows or none), bounded by a timeout.
pub struct RedisUsage {
    connection: ConnectionManager,
    timeout: Duration,
    retention: Duration,
}

impl RedisUsage {
    /// One lazily opened connection with the settings of `store.redis` (Redis need not be up);
    /// a flush or read may take up to `max(store timeout, 2 s)` (it carries many rows). Fails
    /// only on an invalid URL. Must be called within a Tokio runtime.
    pub fn new(cfg: &RedisStore, retention: Duration) -> Result<Self, Error> {
        Ok(RedisUsage {
            connection: crate::redis::connection(cfg)?,
            timeout: cfg.timeout.max(Duration::from_secs(2)),
            retention,
        })
    }

    /// Runs `pipe`; when the connection was found broken (e.g. Redis restarted since the last
    /// flush), once more on the connection the manager re-opens. Not after a timeout: the
    /// transaction may have been applied.
    async fn send_once_more_if_dropped(&self, pipe: &::redis::Pipeline) -> Result<(), Error> {
        let mut connection = self.connection.clone();
        let first = tokio::time::timeout(self.timeout, pipe.query_async::<()>(&mut connection));
        match first.await {
            Ok(Err(e)) if e.is_connection_dropped() || e.is_connection_refusal() => {
                let mut connection = self.connection.clone();
                crate::redis::bounded(self.timeout, pipe.query_async::<()>(&mut connection)).await
            }
            Ok(result) => result.map_err(|e| Error::Unavailable(format!("redis: {e}"))),
            Err(_) => Err(Error::Unavailable(format!(
                "redis: no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// The key of an hour's hash.
    pub fn redis_key(hour: u64) -> String {
        format!("{USAGE_KEY_PREFIX}{{{}}}", hour_key(hour))
    }

    /// The field of a row.
    pub fn field(consumer: &str, route: &str, class: u8) -> String {
        let s = FIELD_SEPARATOR;
        format!("{consumer}{s}{route}{s}{}", class_label(class))
    }
}

#[async_trait]
impl UsageStore for RedisUsage {
    async fn write(&self, deltas: &mut Deltas) -> Result<(), Error> {
        let mut hours: BTreeMap<u64, Vec<_>> = BTreeMap::new();
        for (k, n) in deltas.iter() {
            hours.entry(k.hour).or_default().push((k.clone(), *n));
        }
        for (hour, rows) in hours {
            let key = Self::redis_key(hour);
            let mut pipe = ::redis::pipe();
            pipe.atomic();
            for (k, n) in &rows {
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg(Self::field(&k.consumer, &k.route, k.class))
                    .arg(*n)
                    .ignore();
            }
            let expire_at = (hour + 1) * HOUR + self.retention.as_secs();
            pipe.cmd("EXPIREAT").arg(&key).arg(expire_at).ignore();
            self.send_once_more_if_dropped(&pipe).await?;
            for (k, _) in rows {
                deltas.remove(&k);
            }
        }
        Ok(())
    }

    async fn read(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, Error> {
        let mut out = Vec::new();
        let hours: Vec<u64> = (query.from_hour..query.to_hour).collect();
        for batch in hours.chunks(READ_BATCH) {
            let mut pipe = ::redis::pipe();
            for hour in batch {
                pipe.cmd("HGETALL").arg(Self::redis_key(*hour));
            }
            let mut connection = self.connection.clone();
            let replies: Vec<Vec<(String, u64)>> =
                crate::redis::bounded(self.timeout, pipe.query_async(&mut connection)).await?;
            for (hour, fields) in batch.iter().zip(replies) {
                for (field, requests) in fields {
                    let mut parts = field.split(FIELD_SEPARATOR);
                    let (Some(consumer), Some(route), Some(class), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let Some(class) = parse_class(class) else {
                        continue;
                    };
                    if query.matches(consumer, route) {
                        out.push(UsageRow {
                            hour: *hour,
                            consumer: consumer.to_owned(),
                            route: route.to_owned(),
                            class,
                            requests,
                        });
                    }
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}
