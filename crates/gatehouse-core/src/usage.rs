//! Usage metering glue: the meter of `usage:` built with the snapshot (kept across reloads while
//! `usage:` and `store:` are unchanged), its background flush, its Prometheus collector, and the
//! one call that records a finished request.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::Config;
use gatehouse_config::model::{UsageBackend, UsageMetering};
use gatehouse_metrics::{Collector, Encoder, Registry};
use gatehouse_plugins::RequestContext;
use gatehouse_store::quota::SystemWallClock;
use gatehouse_store::usage::{
    MEMORY_MAX_ROWS, MemoryUsage, RedisUsage, UsageMeter, UsageStore, class_label,
};
use tokio::sync::Notify;

use crate::Error;

/// The usage meter of a snapshot, with what it was built from. Dropping the last reference
/// stops the flush task after one final flush (best effort: the runtime must still run).
pub(crate) struct Usage {
    meter: Arc<UsageMeter>,
    config: UsageMetering,
    redis: Option<gatehouse_config::model::RedisStore>,
    /// The in-process rows (`backend: memory`), handed to the next meter on reload.
    memory: Option<Arc<MemoryUsage>>,
    _collector: Arc<dyn Collector>,
    stop: Arc<Notify>,
}

impl Drop for Usage {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

impl Usage {
    /// The meter (flush, read, series).
    pub(crate) fn meter(&self) -> &Arc<UsageMeter> {
        &self.meter
    }
}

/// The usage meter for `config`: `None` when metering is off; the previous one when `usage:`
/// (and, for `backend: redis`, `store.redis`) did not change; else a new one, which takes over
/// the previous in-process rows.
pub(crate) fn usage_for(
    config: &Config,
    previous: Option<&Arc<Usage>>,
    metrics: &Arc<Registry>,
) -> Result<Option<Arc<Usage>>, Error> {
    let u = &config.usage;
    if !u.enabled {
        return Ok(None);
    }
    let redis =
        match u.backend {
            UsageBackend::Redis => Some(config.store.redis.clone().ok_or_else(|| {
                Error::Build("usage: backend redis needs `store.redis`".to_owned())
            })?),
            UsageBackend::Memory => None,
        };
    if let Some(p) = previous.filter(|p| p.config == *u && p.redis == redis) {
        return Ok(Some(p.clone()));
    }
    let (store, memory): (Arc<dyn UsageStore>, _) = match &redis {
        Some(cfg) => {
            let store = RedisUsage::new(cfg, u.retention)
                .map_err(|e| Error::Build(format!("usage: {e}")))?;
            (Arc::new(store), None)
        }
        None => {
            let memory = previous
                .and_then(|p| p.memory.clone())
                .inspect(|m| m.set_retention(u.retention))
                .unwrap_or_else(|| {
                    Arc::new(MemoryUsage::new(
                        u.retention,
                        MEMORY_MAX_ROWS,
                        Arc::new(SystemWallClock),
                    ))
                });
            (memory.clone() as Arc<dyn UsageStore>, Some(memory))
        }
    };
    let meter = Arc::new(UsageMeter::new(
        store,
        u.max_series,
        Arc::new(SystemWallClock),
    ));
    let collector: Arc<dyn Collector> = Arc::new(UsageCollector(meter.clone()));
    metrics.register(&collector);
    let stop = Arc::new(Notify::new());
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(flush_loop(meter.clone(), u.flush_interval, stop.clone()));
        }
        Err(_) => tracing::warn!("usage metering: no runtime, counts flush only on demand"),
    }
    Ok(Some(Arc::new(Usage {
        meter,
        config: u.clone(),
        redis,
        memory,
        _collector: collector,
        stop,
    })))
}

/// Flushes every `interval`, and once more when told to stop.
async fn flush_loop(meter: Arc<UsageMeter>, interval: Duration, stop: Arc<Notify>) {
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(interval) => false,
            () = stop.notified() => true,
        };
        // Errors are logged by the meter (once per state change) and retried next time.
        let _ = meter.flush().await;
        if stopping {
            return;
        }
    }
}

/// Counts a finished request for billing: only with a consumer (the anonymous consumer counts
/// under its id) and a matched route.
pub(crate) fn record(usage: Option<&Usage>, cx: &RequestContext, status: http::StatusCode) {
    let Some(usage) = usage else { return };
    let consumer = cx.identity.as_ref().and_then(|i| i.consumer_id.as_deref());
    if let (Some(consumer), Some(route)) = (consumer, &cx.route) {
        usage.meter.record(consumer, route, status.as_u16());
    }
}

/// `gatehouse_usage_requests_total{consumer,route,status_class}` and friends.
struct UsageCollector(Arc<UsageMeter>);

impl Collector for UsageCollector {
    fn collect(&self, out: &mut Encoder) {
        let meter = &self.0;
        for s in meter.series() {
            out.counter(
                "gatehouse_usage_requests",
                "Requests per consumer, route and status class since start (this process).",
                &[
                    ("consumer", &s.consumer),
                    ("route", &s.route),
                    ("status_class", class_label(s.class)),
                ],
                s.requests,
            );
        }
        out.counter(
            "gatehouse_usage_series_overflow",
            "Requests counted under consumer=\"__other__\" because usage.max_series was reached.",
            &[],
            meter.overflow(),
        );
        out.counter(
            "gatehouse_usage_dropped",
            "Metered requests dropped because the usage store failed for too long.",
            &[],
            meter.dropped(),
        );
        out.gauge(
            "gatehouse_usage_flush_failing",
            "1 while the last usage flush failed.",
            &[],
            if meter.is_failing() { 1.0 } else { 0.0 },
        );
    }
}

/// Longest wait for the final usage flush at shutdown.
const SHUTDOWN_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Writes the counts recorded so far to the usage store (best effort, bounded): called once the
/// gateway has drained at shutdown.
pub(crate) async fn flush_at_shutdown(snapshot: &crate::Snapshot) {
    if let Some(meter) = snapshot.usage() {
        match tokio::time::timeout(SHUTDOWN_FLUSH_LIMIT, meter.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "usage metering: final flush failed"),
            Err(_) => tracing::warn!("usage metering: final flush timed out"),
        }
    }
}
