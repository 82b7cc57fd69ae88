//! The plugin trait: one hook per phase of a request's life.

use async_trait::async_trait;
use bytes::Bytes;
use http::{request, response};

use crate::{LogRecord, RequestContext, Result};

/// A response a plugin answers with instead of calling the upstream.
pub type LocalResponse = http::Response<Bytes>;

/// What the pipeline does after a hook.
#[derive(Debug)]
pub enum Flow {
    /// Go on to the next plugin / phase.
    Continue,
    /// Stop here and answer with this response (the response phase and `on_log` still run).
    Respond(LocalResponse),
}

/// The phases a plugin takes part in; the chain compiler skips a plugin in every other phase, so a
/// plugin costs nothing in phases it does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases(u8);

impl Phases {
    /// `on_request`: before routing.
    pub const REQUEST: Phases = Phases(1);
    /// `on_access`: after routing; authentication, authorization, limits.
    pub const ACCESS: Phases = Phases(2);
    /// `on_upstream_request`: the request about to be sent upstream.
    pub const UPSTREAM_REQUEST: Phases = Phases(4);
    /// `on_response`: the response head about to be sent to the client.
    pub const RESPONSE: Phases = Phases(8);
    /// `on_log`: after the response, always.
    pub const LOG: Phases = Phases(16);

    /// No phase.
    pub const fn empty() -> Phases {
        Phases(0)
    }

    /// Union of two sets.
    pub const fn with(self, other: Phases) -> Phases {
        Phases(self.0 | other.0)
    }

    /// Whether `other` is in this set.
    pub const fn contains(self, other: Phases) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A pipeline plugin. Every hook defaults to a no-op; [`Plugin::phases`] names the hooks a plugin
/// implements so that chains only call those.
///
/// Order: `on_request` (global plugins, before routing) → routing → `on_access` →
/// `on_upstream_request` → upstream call → `on_response` → `on_log`. Within a phase, higher
/// [`Plugin::priority`] runs first.
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// The plugin's name as written in config.
    fn name(&self) -> &'static str;

    /// Default priority: higher runs first within a phase. See `docs/plugins.md` for the table.
    fn priority(&self) -> i32;

    /// The hooks this plugin implements.
    fn phases(&self) -> Phases;

    /// Before routing; only global plugins run here. Default: continue.
    async fn on_request(
        &self,
        _cx: &mut RequestContext,
        _req: &mut request::Parts,
    ) -> Result<Flow> {
        Ok(Flow::Continue)
    }

    /// After routing: authentication, authorization, limits. Default: continue.
    async fn on_access(&self, _cx: &mut RequestContext, _req: &mut request::Parts) -> Result<Flow> {
        Ok(Flow::Continue)
    }

    /// The request about to go upstream (path rewritten, proxy headers set). Default: continue.
    async fn on_upstream_request(
        &self,
        _cx: &mut RequestContext,
        _req: &mut request::Parts,
    ) -> Result<Flow> {
        Ok(Flow::Continue)
    }

    /// The response head about to be sent to the client, whether it came from the upstream, a
    /// plugin, or an error. Default: nothing.
    async fn on_response(
        &self,
        _cx: &mut RequestContext,
        _resp: &mut response::Parts,
    ) -> Result<()> {
        Ok(())
    }

    /// After the response was sent (or the client went away); always runs. Must not block.
    fn on_log(&self, _cx: &RequestContext, _record: &LogRecord) {}

    /// The response-cache stage this plugin provides, run by the data plane after the access
    /// phase (see [`crate::ResponseCache`]). Default: none.
    fn response_cache(&self) -> Option<std::sync::Arc<dyn crate::ResponseCache>> {
        None
    }
}
