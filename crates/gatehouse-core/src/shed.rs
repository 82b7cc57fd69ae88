//! Admission control: gateway-wide load shedding (`server.load_shedding`) and the route's and
//! cluster's bulkheads, plus the metrics of breakers, bulkheads and shedding.
//!
//! Load shedding is checked first thing for every proxied request (admin endpoints run on their
//! own listener and are never shed): more requests in flight than `max_in_flight`, or a process
//! resident set above `max_memory` (sampled from `/proc/self/statm` every 100 ms by a background
//! task, never per request, less what the allocator kept while idle: see `memory`), answers 503
//! with `Retry-After` at once. Bulkhead slots are taken
//! after routing, before a target is picked. Every guard lives in the request's context
//! extensions, so it is held until the response body is finished.

mod memory;
mod metrics;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gatehouse_config::Config;
use gatehouse_config::model::{LoadShedding, Route};
use gatehouse_metrics::{Collector, Registry};
use gatehouse_plugins::RequestContext;
use gatehouse_upstream::{Bulkhead, BulkheadFull, BulkheadPermit, Cluster};

use crate::Error;
use crate::snapshot::{RouteEntry, Snapshot};

/// `Retry-After` of a shed request when `retry_after` is not set.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Counts that outlive a snapshot (carried into the next one on reload).
#[derive(Debug, Default)]
pub(crate) struct ShedCounts {
    in_flight: AtomicU64,
    shed_in_flight: AtomicU64,
    shed_memory: AtomicU64,
}

/// The load shedder and resilience metrics of one snapshot.
pub(crate) struct Shed {
    max_in_flight: Option<u64>,
    max_memory: Option<u64>,
    retry_after: Duration,
    counts: Arc<ShedCounts>,
    memory: Option<memory::Sampler>,
    _collector: Arc<dyn Collector>,
}

/// One request counted in flight until dropped (with the request's context).
struct InFlight(Arc<ShedCounts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The guards a request holds until its response ends, in its context's extensions.
#[derive(Clone)]
struct Held {
    _in_flight: Arc<InFlight>,
}

/// Bulkhead slots a request holds until its response ends.
#[derive(Clone)]
struct Slots {
    _permits: Arc<[BulkheadPermit]>,
}

impl Shed {
    /// The shedder for `config`, keeping `previous`'s counts; registers the metrics of breakers,
    /// bulkheads and shedding in `registry`. Fails when `max_memory` is set outside a tokio
    /// runtime (the sampler is a task).
    pub(crate) fn build(
        config: &Config,
        previous: Option<&Shed>,
        clusters: &HashMap<String, Arc<Cluster>>,
        entries: &[RouteEntry],
        registry: &Registry,
    ) -> Result<Arc<Shed>, Error> {
        let LoadShedding {
            max_in_flight,
            max_memory,
            retry_after,
        } = config.server.load_shedding;
        let counts = previous.map_or_else(Default::default, |p| p.counts.clone());
        let memory = match max_memory {
            Some(_) => Some(
                memory::Sampler::start(counts.clone())
                    .map_err(|e| Error::Build(format!("server.load_shedding.max_memory: {e}")))?,
            ),
            None => None,
        };
        let collector: Arc<dyn Collector> = Arc::new(metrics::ResilienceMetrics::new(
            clusters,
            entries,
            counts.clone(),
        ));
        registry.register(&collector);
        Ok(Arc::new(Shed {
            max_in_flight,
            max_memory,
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            counts,
            memory,
            _collector: collector,
        }))
    }

    /// Counts the request in flight (until its context is dropped) or sheds it: 503 with
    /// `Retry-After`. Free when load shedding is off.
    pub(crate) fn admit(&self, cx: &mut RequestContext) -> Result<(), Error> {
        if self.max_in_flight.is_none() && self.max_memory.is_none() {
            return Ok(());
        }
        // Counted for the memory sampler too (it needs to know when nothing is in flight).
        let now = self.counts.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let guard = InFlight(self.counts.clone());
        if self.max_in_flight.is_some_and(|max| now > max) {
            self.counts.shed_in_flight.fetch_add(1, Ordering::Relaxed);
            return Err(self.refuse("in_flight"));
        }
        self.check_memory()?;
        cx.extensions.insert(Held {
            _in_flight: Arc::new(guard),
        });
        Ok(())
    }

    fn check_memory(&self) -> Result<(), Error> {
        let (Some(max), Some(sampler)) = (self.max_memory, &self.memory) else {
            return Ok(());
        };
        if sampler.bytes() <= max {
            return Ok(());
        }
        self.counts.shed_memory.fetch_add(1, Ordering::Relaxed);
        Err(self.refuse("memory"))
    }

    fn refuse(&self, reason: &'static str) -> Error {
        Error::Overloaded {
            reason,
            retry_after: self.retry_after,
        }
    }
}

/// Takes a slot of the route's bulkhead, then of the cluster's, held in `cx` until the response
/// ends. 503 when either is full (queue full at once, or after its `queue_timeout`).
pub(crate) async fn bulkheads(entry: &RouteEntry, cx: &mut RequestContext) -> Result<(), Error> {
    let route = entry.bulkhead.as_deref();
    let cluster = entry.cluster.bulkhead();
    if route.is_none() && cluster.is_none() {
        return Ok(());
    }
    let mut slots = Vec::with_capacity(2);
    for bulkhead in [route, cluster].into_iter().flatten() {
        slots.push(bulkhead.acquire().await.map_err(|why| {
            Error::BulkheadFull(match why {
                BulkheadFull::QueueFull => "queue full",
                BulkheadFull::QueueTimeout => "queue timeout",
            })
        })?);
    }
    cx.extensions.insert(Slots {
        _permits: slots.into(),
    });
    Ok(())
}

/// The route's bulkhead: the previous snapshot's when the route kept its name and bulkhead
/// settings (so that a reload does not double the limit), else a new one.
pub(crate) fn route_bulkhead(route: &Route, previous: Option<&Snapshot>) -> Option<Arc<Bulkhead>> {
    let cfg = route.resilience.bulkhead.as_ref()?;
    let kept = previous.and_then(|p| {
        let index =
            p.config.routes.iter().position(|r| {
                r.name == route.name && r.resilience.bulkhead.as_ref() == Some(cfg)
            })?;
        p.entries.get(index)?.bulkhead.clone()
    });
    Some(kept.unwrap_or_else(|| Arc::new(Bulkhead::new(cfg))))
}
