//! Per-route outcome counters (resolved once per route name, then atomics only) and the eviction
//! counter. The data plane exposes them as `gatehouse_cache_requests_total{route,result}` and
//! `gatehouse_cache_evictions_total`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_metrics::{Counter, Encoder};

use crate::answer::Outcome;

/// Counters of one route, one per [`Outcome`].
#[derive(Default)]
pub struct RouteCounters([Counter; 6]);

impl RouteCounters {
    /// Counts one response.
    pub fn count(&self, outcome: Outcome) {
        self.0[outcome as usize].inc();
    }

    /// The count of `outcome`.
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome as usize].get()
    }
}

/// The counters of every route the cache has served. Route names come from config (bounded); the
/// list is copied on the first request of a new route only.
#[derive(Default)]
pub struct CacheMetrics {
    routes: ArcSwap<Vec<(Arc<str>, Arc<RouteCounters>)>>,
    /// Entries evicted to stay within `max_size`.
    pub evictions: Arc<Counter>,
}

impl CacheMetrics {
    /// The counters of `route` (`-` when unrouted).
    pub fn route(&self, route: Option<&Arc<str>>) -> Arc<RouteCounters> {
        let name: &str = route.map_or("-", |r| r);
        let find = |list: &Vec<(Arc<str>, Arc<RouteCounters>)>| {
            list.iter()
                .find(|(n, _)| route.is_some_and(|r| Arc::ptr_eq(n, r)) || &**n == name)
                .map(|(_, c)| c.clone())
        };
        if let Some(c) = find(&self.routes.load()) {
            return c;
        }
        let added = Arc::new(RouteCounters::default());
        self.routes.rcu(|list| {
            let mut list = Vec::clone(list);
            if find(&list).is_none() {
                list.push((Arc::from(name), added.clone()));
            }
            list
        });
        find(&self.routes.load()).unwrap_or(added)
    }

    /// Every route's counts, in [`Outcome::ALL`] order.
    pub fn counts(&self) -> Vec<(Arc<str>, [u64; 6])> {
        self.routes
            .load()
            .iter()
            .map(|(route, c)| (route.clone(), Outcome::ALL.map(|o| c.get(o))))
            .collect()
    }
}

/// A cache's counters and usage at one moment.
#[derive(Debug, Clone, Default)]
pub struct CacheStats {
    /// Per route, the counts in [`Outcome::ALL`] order.
    pub requests: Vec<(Arc<str>, [u64; 6])>,
    /// Entries evicted for size.
    pub evictions: u64,
    /// Bytes and records held, when the backend is in process.
    pub usage: Option<(u64, u64)>,
}

/// Writes `gatehouse_cache_requests_total{route,result}`, `gatehouse_cache_evictions_total`,
/// `gatehouse_cache_bytes` and `gatehouse_cache_entries`, summed over `all` caches.
pub fn encode(out: &mut Encoder, all: &[CacheStats]) {
    let mut routes: Vec<(Arc<str>, [u64; 6])> = Vec::new();
    for (route, counts) in all.iter().flat_map(|s| &s.requests) {
        match routes.iter_mut().find(|(r, _)| r == route) {
            Some((_, sum)) => sum.iter_mut().zip(counts).for_each(|(s, c)| *s += c),
            None => routes.push((route.clone(), *counts)),
        }
    }
    for (route, counts) in &routes {
        for (outcome, count) in Outcome::ALL.iter().zip(counts) {
            out.counter(
                "gatehouse_cache_requests",
                "Requests seen by the response cache, by route and result.",
                &[("route", route), ("result", outcome.label())],
                *count,
            );
        }
    }
    out.counter(
        "gatehouse_cache_evictions",
        "Entries evicted from the in-process response cache to stay within max_size.",
        &[],
        all.iter().map(|s| s.evictions).sum(),
    );
    let (bytes, entries) = all
        .iter()
        .filter_map(|s| s.usage)
        .fold((0, 0), |(b, e), (b2, e2)| (b + b2, e + e2));
    out.gauge(
        "gatehouse_cache_bytes",
        "Bytes held by the in-process response cache.",
        &[],
        bytes as f64,
    );
    out.gauge(
        "gatehouse_cache_entries",
        "Records (entries and Vary indexes) held by the in-process response cache.",
        &[],
        entries as f64,
    );
}
