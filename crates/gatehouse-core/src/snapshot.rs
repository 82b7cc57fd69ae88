//! The runtime snapshot: everything a request needs, built once per configuration and swapped
//! atomically on reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use gatehouse_config::Config;
use gatehouse_config::model::StoreConfig;
use gatehouse_metrics::Registry;
use gatehouse_plugins::builtin::BuildContext;
use gatehouse_plugins::builtin::rate_limit::Limiters;
use gatehouse_plugins::{Chain, ConsumerRegistry};
use gatehouse_router::RouteTable;
use gatehouse_upstream::Cluster;

use crate::Error;

/// A compiled route.
pub(crate) struct RouteEntry {
    pub(crate) name: Arc<str>,
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) chain: Arc<Chain>,
    pub(crate) preserve_host: bool,
    /// Whether WebSocket upgrades may tunnel (`websocket: true`).
    pub(crate) websocket: bool,
    /// The route's bulkhead (`bulkhead:`), if any.
    pub(crate) bulkhead: Option<Arc<gatehouse_upstream::Bulkhead>>,
    /// Timeouts and retries towards the route's cluster.
    pub(crate) call: crate::upstream_call::CallPolicy,
    /// The route's request mirror (`mirror:`), if any.
    pub(crate) mirror: Option<Arc<crate::mirror::Mirror>>,
    /// The route's request counters and histograms.
    pub(crate) metrics: Arc<crate::metrics::RouteMetrics>,
}

/// An immutable, compiled configuration.
pub struct Snapshot {
    /// The configuration it was built from.
    pub config: Arc<Config>,
    /// Monotonic version, 1 for the first configuration.
    pub version: u64,
    /// When it was built.
    pub loaded_at: SystemTime,
    pub(crate) routes: RouteTable,
    pub(crate) entries: Vec<RouteEntry>,
    pub(crate) global: Arc<Chain>,
    pub(crate) clusters: HashMap<String, Arc<Cluster>>,
    pub(crate) via: crate::forwarding::ViaValues,
    pub(crate) identity: crate::identity::IdentityHeaders,
    /// Rate limiters, carried into the next snapshot so that counters survive reloads.
    pub(crate) limiters: Arc<Limiters>,
    /// The gateway's metrics registry (the same for every snapshot of one gateway); collectors
    /// built for this snapshot register here and vanish with it.
    pub(crate) metrics: Arc<Registry>,
    /// The usage meter (`usage:`), carried into the next snapshot like `limiters`.
    pub(crate) usage: Option<Arc<crate::usage::Usage>>,
    /// Load shedding, and the metrics of breakers, bulkheads and shedding.
    pub(crate) shed: Arc<crate::shed::Shed>,
    /// The retry and timeout metrics of this snapshot's clusters (registered in `metrics`).
    _call_metrics: Arc<dyn gatehouse_metrics::Collector>,
    /// The response caches' metrics, when the configuration has a cache.
    _cache_metrics: Option<Arc<dyn gatehouse_metrics::Collector>>,
    /// The routes' request mirrors (counters carried across reloads).
    pub(crate) mirrors: Arc<crate::mirror::Mirrors>,
    /// Per-route metric handles and this snapshot's collector.
    pub(crate) meters: Arc<crate::metrics::SnapshotMetrics>,
    /// Trace sampling and export.
    pub(crate) tracer: crate::trace::Tracer,
    /// The JSON access log.
    pub(crate) access_log: crate::access_log::AccessLog,
}

impl Snapshot {
    /// The process's rate limiters and quota counters (e.g. [`Limiters::quota`] for usage).
    pub fn limiters(&self) -> &Arc<Limiters> {
        &self.limiters
    }

    /// Compiles `config`. Clusters whose settings did not change are taken over from `previous`
    /// with their pooled connections and health state.
    pub fn build(
        config: Config,
        previous: Option<&Snapshot>,
        version: u64,
        metrics: &Arc<Registry>,
    ) -> Result<Snapshot, Error> {
        let mut clusters = HashMap::with_capacity(config.upstreams.len());
        for upstream in &config.upstreams {
            let reused = previous
                .and_then(|p| p.clusters.get(&upstream.name))
                .filter(|c| c.config() == upstream)
                .cloned();
            let cluster = match reused {
                Some(c) => c,
                None => Cluster::new(upstream)
                    .map_err(|e| Error::Build(format!("upstream `{}`: {e}", upstream.name)))?,
            };
            clusters.insert(upstream.name.clone(), cluster);
        }
        let routes =
            RouteTable::build(&config.routes).map_err(|e| Error::Build(format!("routes: {e}")))?;
        let limiters = limiters_for(&config.store, previous.map(|p| &p.limiters))?;
        let rate_limit_metrics =
            limiters.prepare_metrics(config.routes.iter().map(|r| r.name.as_str()));
        metrics.register(&(rate_limit_metrics as Arc<dyn gatehouse_metrics::Collector>));
        let usage =
            crate::usage::usage_for(&config, previous.and_then(|p| p.usage.as_ref()), metrics)?;
        let build_cx = BuildContext {
            consumers: Arc::new(ConsumerRegistry::new(&config.consumers)),
            plans: Arc::new(
                config
                    .plans
                    .iter()
                    .map(|p| (p.name.clone(), p.clone()))
                    .collect(),
            ),
            store: limiters.clone(),
            forwarded_claims: Arc::new(
                config
                    .identity
                    .claim_headers
                    .iter()
                    .map(|(path, _)| path.clone())
                    .collect(),
            ),
        };
        let globals = Chain::build_globals(&config.plugins, &build_cx)?;
        let global = Arc::new(Chain::global(&globals));
        let meters = crate::metrics::SnapshotMetrics::build(
            &config,
            previous.map(|p| &*p.meters),
            version,
            &clusters,
        );
        let mirrors = crate::mirror::Mirrors::build(
            &config.routes,
            &clusters,
            previous.map(|p| &*p.mirrors),
            version,
        )?;
        let mut entries = Vec::with_capacity(config.routes.len());
        for (index, route) in config.routes.iter().enumerate() {
            let cluster = clusters
                .get(&route.upstream)
                .cloned()
                .ok_or_else(|| Error::Build(format!("route `{}`: unknown upstream", route.name)))?;
            entries.push(RouteEntry {
                call: crate::upstream_call::CallPolicy::new(&route.resilience, cluster.config()),
                name: Arc::from(route.name.as_str()),
                cluster,
                chain: Arc::new(Chain::compile(
                    &globals,
                    &route.plugins,
                    route.auth.as_ref(),
                    &build_cx,
                )?),
                preserve_host: route.preserve_host,
                websocket: route.websocket,
                bulkhead: crate::shed::route_bulkhead(route, previous),
                mirror: mirrors.route(entries.len()),
                metrics: meters.entry(index),
            });
        }
        let meters = Arc::new(meters);
        meters.activate(metrics);
        let mirrors = Arc::new(mirrors);
        mirrors.activate(metrics);
        let shed = previous.map(|p| &*p.shed);
        let shed = crate::shed::Shed::build(&config, shed, &clusters, &entries, metrics)?;
        Ok(Snapshot {
            shed,
            tracer: crate::trace::Tracer::build(&config, previous.map(|p| &p.tracer), metrics),
            access_log: crate::access_log::AccessLog::build(
                &config,
                previous.map(|p| &p.access_log),
                metrics,
            ),
            _call_metrics: crate::upstream_call::CallMetrics::register(&clusters, metrics),
            _cache_metrics: crate::cache_stage::CacheCollector::register(
                &global, &entries, metrics,
            ),
            mirrors,
            meters,
            via: crate::forwarding::ViaValues::new(&config.server.via),
            identity: crate::identity::IdentityHeaders::new(
                &config.identity,
                config.server.method_override,
            ),
            config: Arc::new(config),
            version,
            loaded_at: SystemTime::now(),
            routes,
            entries,
            global,
            clusters,
            limiters,
            metrics: metrics.clone(),
            usage,
        })
    }

    /// Per-route request metrics (for `/status` summaries).
    pub fn route_metrics(&self) -> &crate::metrics::SnapshotMetrics {
        &self.meters
    }

    /// The usage meter, when `usage.enabled` (flush it, read rows for billing).
    pub fn usage(&self) -> Option<&Arc<gatehouse_store::usage::UsageMeter>> {
        self.usage.as_ref().map(|u| u.meter())
    }

    /// The gateway's metrics registry.
    pub fn metrics(&self) -> &Arc<Registry> {
        &self.metrics
    }

    /// The upstream clusters by name.
    pub fn clusters(&self) -> impl Iterator<Item = (&str, &Arc<Cluster>)> {
        self.clusters.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// The rate limiters for `store`: the previous snapshot's when `store:` is unchanged (counters
/// survive the reload), else new ones that still adopt the previous in-process limiters.
fn limiters_for(
    store: &StoreConfig,
    previous: Option<&Arc<Limiters>>,
) -> Result<Arc<Limiters>, Error> {
    if let Some(previous) = previous.filter(|p| p.store() == store) {
        return Ok(previous.clone());
    }
    let limiters = Limiters::new(store).map_err(|e| Error::Build(format!("store: {e}")))?;
    if let Some(previous) = previous {
        limiters.adopt_memory(previous.memory_limiters());
        limiters.adopt_memory_quota(previous.memory_quota());
    }
    Ok(Arc::new(limiters))
}
