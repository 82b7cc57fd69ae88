//! `request_headers` and `response_headers`: one [`HeaderOps`] applier, two phases.

use async_trait::async_trait;
use gatehouse_config::model::HeaderOps;
use http::{HeaderMap, HeaderValue, request, response};

use crate::{Flow, Phases, Plugin, RequestContext, Result};

/// Applies `ops` to `headers` in the order remove, rename, set, add.
///
/// - `remove`: drops every value of each name.
/// - `rename`: moves *all* values of `from` to `to`, replacing any values `to` had; a `from` that is
///   absent (or equal to `to`) changes nothing.
/// - `set`: replaces every value of the name (when a name is set twice, the last one wins).
/// - `add`: appends, keeping existing values.
pub fn apply(ops: &HeaderOps, headers: &mut HeaderMap) {
    for name in &ops.remove {
        headers.remove(name);
    }
    for (from, to) in &ops.rename {
        if from == to {
            continue;
        }
        let values: Vec<HeaderValue> = headers.get_all(from).iter().cloned().collect();
        if values.is_empty() {
            continue;
        }
        headers.remove(from);
        headers.remove(to);
        for v in values {
            headers.append(to.clone(), v);
        }
    }
    for (name, value) in &ops.set {
        headers.insert(name.clone(), value.clone());
    }
    for (name, value) in &ops.add {
        headers.append(name.clone(), value.clone());
    }
}

/// The `request_headers` plugin: applies its operations to the request about to go upstream
/// (`on_upstream_request`), after the data plane has set the proxy headers.
#[derive(Debug)]
pub struct RequestHeaders {
    ops: HeaderOps,
}

impl RequestHeaders {
    /// Builds the plugin from its operations.
    pub fn new(ops: &HeaderOps) -> Self {
        RequestHeaders { ops: ops.clone() }
    }
}

#[async_trait]
impl Plugin for RequestHeaders {
    fn name(&self) -> &'static str {
        "request_headers"
    }

    fn priority(&self) -> i32 {
        super::priority::REQUEST_HEADERS
    }

    fn phases(&self) -> Phases {
        Phases::UPSTREAM_REQUEST
    }

    async fn on_upstream_request(
        &self,
        _cx: &mut RequestContext,
        req: &mut request::Parts,
    ) -> Result<Flow> {
        apply(&self.ops, &mut req.headers);
        Ok(Flow::Continue)
    }
}

/// The `response_headers` plugin: applies its operations to every response head sent to the
/// client (`on_response`): upstream responses, plugin answers and errors alike.
#[derive(Debug)]
pub struct ResponseHeaders {
    ops: HeaderOps,
}

impl ResponseHeaders {
    /// Builds the plugin from its operations.
    pub fn new(ops: &HeaderOps) -> Self {
        ResponseHeaders { ops: ops.clone() }
    }
}

#[async_trait]
impl Plugin for ResponseHeaders {
    fn name(&self) -> &'static str {
        "response_headers"
    }

    fn priority(&self) -> i32 {
        super::priority::RESPONSE_HEADERS
    }

    fn phases(&self) -> Phases {
        Phases::RESPONSE
    }

    async fn on_response(
        &self,
        _cx: &mut RequestContext,
        resp: &mut response::Parts,
    ) -> Result<()> {
        apply(&self.ops, &mut resp.headers);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
