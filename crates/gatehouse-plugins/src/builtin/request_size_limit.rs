//! `request_size_limit`: refuse request bodies larger than a limit.

use async_trait::async_trait;
use gatehouse_config::model::RequestSizeLimitConfig;
use http::header::CONTENT_LENGTH;
use http::{StatusCode, request};

use crate::problem::problem_response;
use crate::{Flow, Phases, Plugin, RequestContext, Result};

/// The `request_size_limit` plugin (`on_access`).
///
/// A request whose `Content-Length` exceeds `max_bytes` is answered at once with
/// `413` (`problem+json`). Otherwise [`RequestContext::max_body_bytes`] is lowered
/// to `max_bytes` (never raised), and the data plane enforces it while streaming the body — which
/// covers chunked bodies and lying `Content-Length`s. An unparsable `Content-Length` is left to the
/// HTTP layer, which refuses it before plugins run.
#[derive(Debug)]
pub struct RequestSizeLimit {
    max_bytes: u64,
}

impl RequestSizeLimit {
    /// Builds the plugin from its settings.
    pub fn new(config: &RequestSizeLimitConfig) -> Self {
        RequestSizeLimit {
            max_bytes: config.max_bytes,
        }
    }
}

/// The declared body length: the largest valid `Content-Length` value, if any.
fn content_length(req: &request::Parts) -> Option<u64> {
    req.headers
        .get_all(CONTENT_LENGTH)
        .iter()
        .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .max()
}

#[async_trait]
impl Plugin for RequestSizeLimit {
    fn name(&self) -> &'static str {
        "request_size_limit"
    }

    fn priority(&self) -> i32 {
        super::priority::REQUEST_SIZE_LIMIT
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    async fn on_access(&self, cx: &mut RequestContext, req: &mut request::Parts) -> Result<Flow> {
        if let Some(len) = content_length(req).filter(|&len| len > self.max_bytes) {
            tracing::debug!(
                len,
                max = self.max_bytes,
                "request_size_limit: body too large"
            );
            let detail = format!(
                "The request body ({len} bytes) exceeds the limit of {} bytes.",
                self.max_bytes
            );
            return Ok(Flow::Respond(problem_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &detail,
                &cx.request_id,
            )));
        }
        cx.max_body_bytes = cx.max_body_bytes.min(self.max_bytes);
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests;
