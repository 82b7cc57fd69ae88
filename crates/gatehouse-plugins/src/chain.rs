//! Per-route plugin chains, compiled once when the configuration is loaded.

use std::sync::Arc;

use gatehouse_config::model::{PluginSpec, RouteAuth};

use crate::auth::{AuthGate, Authenticator};
use crate::builtin::{self, BuildContext, Built};
use crate::{Flow, LogRecord, Phases, Plugin, RequestContext, Result};

/// A plugin with its effective priority.
#[derive(Clone)]
struct Entry {
    priority: i32,
    plugin: Arc<dyn Plugin>,
}

/// The plugins of one route (global ones merged in), split by phase and sorted by priority.
#[derive(Clone, Default)]
pub struct Chain {
    request: Vec<Arc<dyn Plugin>>,
    access: Vec<Arc<dyn Plugin>>,
    upstream_request: Vec<Arc<dyn Plugin>>,
    response: Vec<Arc<dyn Plugin>>,
    log: Vec<Arc<dyn Plugin>>,
    names: Vec<&'static str>,
    cache: Option<Arc<dyn crate::ResponseCache>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("plugins", &self.names)
            .finish()
    }
}

/// Global plugins built once, so routes that do not override them share one instance (and its state).
pub type BuiltGlobals = Vec<(PluginSpec, Built)>;

impl Chain {
    /// Builds the global plugins once.
    pub fn build_globals(global: &[PluginSpec], cx: &BuildContext) -> Result<BuiltGlobals> {
        global
            .iter()
            .filter(|s| s.enabled)
            .map(|s| Ok((s.clone(), builtin::build(&s.config, cx)?)))
            .collect()
    }

    /// The chain of global plugins alone (used before routing and for unrouted requests).
    /// Authentication methods only run inside a route's chain.
    pub fn global(globals: &BuiltGlobals) -> Chain {
        Chain::from_entries(
            globals
                .iter()
                .filter_map(|(spec, built)| match built {
                    Built::Plugin(plugin) => Some(Entry {
                        priority: spec.priority.unwrap_or_else(|| plugin.priority()),
                        plugin: plugin.clone(),
                    }),
                    Built::Authenticator(_) => None,
                })
                .collect(),
        )
    }

    /// Compiles a route's chain: global plugins, replaced by a route plugin of the same name
    /// (override) or removed by one with `enabled: false`, plus the route's own plugins. The
    /// authentication methods among them become one [`AuthGate`] combined by the route's `auth:`
    /// policy (also built when the route only allows anonymous access).
    pub fn compile(
        globals: &BuiltGlobals,
        route: &[PluginSpec],
        auth: Option<&RouteAuth>,
        cx: &BuildContext,
    ) -> Result<Chain> {
        let mut entries = Vec::with_capacity(globals.len() + route.len() + 1);
        let mut methods: Vec<Arc<dyn Authenticator>> = Vec::new();
        let mut add = |spec: &PluginSpec, built: Built| match built {
            Built::Plugin(plugin) => entries.push(Entry {
                priority: spec.priority.unwrap_or_else(|| plugin.priority()),
                plugin,
            }),
            Built::Authenticator(method) => methods.push(method),
        };
        for (spec, built) in globals {
            let name = spec.config.name();
            if route.iter().any(|r| r.config.name() == name) {
                continue;
            }
            add(spec, built.clone());
        }
        for spec in route.iter().filter(|s| s.enabled) {
            add(spec, builtin::build(&spec.config, cx)?);
        }
        if !methods.is_empty() || auth.is_some() {
            let gate = AuthGate::new(methods, auth, &cx.consumers)
                .forwarding_claims(cx.forwarded_claims.clone());
            let gate: Arc<dyn Plugin> = Arc::new(gate);
            entries.push(Entry {
                priority: gate.priority(),
                plugin: gate,
            });
        }
        Ok(Chain::from_entries(entries))
    }

    fn from_entries(mut entries: Vec<Entry>) -> Chain {
        // Stable: equal priorities keep declaration order (globals first).
        entries.sort_by_key(|e| std::cmp::Reverse(e.priority));
        let pick = |phase: Phases| -> Vec<Arc<dyn Plugin>> {
            entries
                .iter()
                .filter(|e| e.plugin.phases().contains(phase))
                .map(|e| e.plugin.clone())
                .collect()
        };
        Chain {
            request: pick(Phases::REQUEST),
            access: pick(Phases::ACCESS),
            upstream_request: pick(Phases::UPSTREAM_REQUEST),
            response: pick(Phases::RESPONSE),
            log: pick(Phases::LOG),
            names: entries.iter().map(|e| e.plugin.name()).collect(),
            cache: entries.iter().find_map(|e| e.plugin.response_cache()),
        }
    }

    /// The chain's response-cache stage (from the highest-priority plugin providing one).
    pub fn response_cache(&self) -> Option<&Arc<dyn crate::ResponseCache>> {
        self.cache.as_ref()
    }

    /// Plugin names in priority order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Runs `on_request` hooks until one answers.
    pub async fn on_request(
        &self,
        cx: &mut RequestContext,
        req: &mut http::request::Parts,
    ) -> Result<Flow> {
        for p in &self.request {
            if let Flow::Respond(r) = p.on_request(cx, req).await? {
                cx.short_circuit.get_or_insert(p.name());
                return Ok(Flow::Respond(r));
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs `on_access` hooks until one answers.
    pub async fn on_access(
        &self,
        cx: &mut RequestContext,
        req: &mut http::request::Parts,
    ) -> Result<Flow> {
        for p in &self.access {
            if let Flow::Respond(r) = p.on_access(cx, req).await? {
                cx.short_circuit.get_or_insert(p.name());
                return Ok(Flow::Respond(r));
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs `on_upstream_request` hooks until one answers.
    pub async fn on_upstream_request(
        &self,
        cx: &mut RequestContext,
        req: &mut http::request::Parts,
    ) -> Result<Flow> {
        for p in &self.upstream_request {
            if let Flow::Respond(r) = p.on_upstream_request(cx, req).await? {
                cx.short_circuit.get_or_insert(p.name());
                return Ok(Flow::Respond(r));
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs every `on_response` hook.
    pub async fn on_response(
        &self,
        cx: &mut RequestContext,
        resp: &mut http::response::Parts,
    ) -> Result<()> {
        for p in &self.response {
            p.on_response(cx, resp).await?;
        }
        Ok(())
    }

    /// Runs every `on_log` hook.
    pub fn on_log(&self, cx: &RequestContext, record: &LogRecord) {
        for p in &self.log {
            p.on_log(cx, record);
        }
    }
}

#[cfg(test)]
mod tests;
