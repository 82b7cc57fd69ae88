//! `request_id`: choose the request id, forward it upstream under a configurable header, echo it.

use async_trait::async_trait;
use gatehouse_config::model::RequestIdConfig;
use http::header::HeaderName;
use http::{HeaderValue, request, response};

use crate::{Flow, Phases, Plugin, RequestContext, Result};

/// Longest incoming id accepted, in bytes.
pub const MAX_LEN: usize = 200;

/// The header the data plane itself propagates.
const DEFAULT_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The `request_id` plugin.
///
/// - `on_request` (global) and `on_upstream_request` (so that it also works as a route plugin):
///   decides the id once per request, then sets the request header to `cx.request_id`, replacing
///   whatever the client sent. With `trust_incoming`, a well-formed incoming id ([`is_well_formed`])
///   becomes `cx.request_id`; otherwise the data plane's id is kept — unless that id itself came
///   from the client (`trust_incoming: false`), in which case a fresh UUID v4 replaces it.
/// - `on_response`: with `echo_in_response`, sets the response header to `cx.request_id`.
#[derive(Debug)]
pub struct RequestId {
    header: HeaderName,
    trust_incoming: bool,
    echo: bool,
}

/// Marker in [`RequestContext::extensions`]: the id was decided for this request.
#[derive(Clone, Copy)]
struct Decided;

/// Whether `value` is an acceptable incoming id: 1–[`MAX_LEN`] bytes of visible ASCII (`!`..=`~`).
pub fn is_well_formed(value: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&value.len()) && value.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// The single value of `name` in `req`, if there is exactly one.
fn single<'a>(req: &'a request::Parts, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut all = req.headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

impl RequestId {
    /// Builds the plugin from its settings.
    pub fn new(config: &RequestIdConfig) -> Self {
        RequestId {
            header: config.header.clone(),
            trust_incoming: config.trust_incoming,
            echo: config.echo_in_response,
        }
    }

    /// Decides `cx.request_id` (once) and writes it into the request header.
    fn apply(&self, cx: &mut RequestContext, req: &mut request::Parts) {
        if cx.extensions.insert(Decided).is_none() {
            if self.trust_incoming {
                if let Some(v) = single(req, &self.header).filter(|v| is_well_formed(v.as_bytes()))
                {
                    // Visible ASCII only, so this is valid UTF-8.
                    if let Ok(s) = v.to_str() {
                        cx.request_id = s.to_owned();
                    }
                }
            } else if self.came_from_client(cx, req) {
                cx.request_id = uuid::Uuid::new_v4().to_string();
            }
        }
        match HeaderValue::from_str(&cx.request_id) {
            Ok(v) => {
                req.headers.insert(self.header.clone(), v);
            }
            Err(_) => {
                // Not a valid header value (the data plane never makes such ids); send none
                // rather than the client's.
                req.headers.remove(&self.header);
            }
        }
    }

    /// Whether the current id equals an id the client sent (the data plane may have adopted it).
    fn came_from_client(&self, cx: &RequestContext, req: &request::Parts) -> bool {
        let id = cx.request_id.as_bytes();
        [&self.header, &DEFAULT_HEADER]
            .into_iter()
            .flat_map(|h| req.headers.get_all(h))
            .any(|v| v.as_bytes() == id)
    }
}

#[async_trait]
impl Plugin for RequestId {
    fn name(&self) -> &'static str {
        "request_id"
    }

    fn priority(&self) -> i32 {
        super::priority::REQUEST_ID
    }

    fn phases(&self) -> Phases {
        let p = Phases::REQUEST.with(Phases::UPSTREAM_REQUEST);
        if self.echo {
            p.with(Phases::RESPONSE)
        } else {
            p
        }
    }

    async fn on_request(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        self.apply(cx, req);
        Ok(Flow::Continue)
    }

    async fn on_upstream_request(
        &self,
        cx: &mut RequestContext,
        req: &mut request::Parts,
    ) -> Result<Flow> {
        self.apply(cx, req);
        Ok(Flow::Continue)
    }

    async fn on_response(&self, cx: &mut RequestContext, resp: &mut response::Parts) -> Result<()> {
        if !self.echo {
            return Ok(());
        }
        if let Ok(v) = HeaderValue::from_str(&cx.request_id) {
            resp.headers.insert(self.header.clone(), v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
