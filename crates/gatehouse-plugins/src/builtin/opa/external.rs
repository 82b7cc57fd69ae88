//! Evaluation by an external OPA server over its REST Data API.

use std::time::Duration;

use bytes::Bytes;
use gatehouse_config::model::ExternalOpa;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Evaluation;
use crate::{Error, Result};

/// Largest OPA response read.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// A client of one OPA Data API document (`POST <url>` with `{"input": …}`, answer
/// `{"result": …}`; no `result` means the document is undefined). Plain HTTP only: OPA is expected
/// on loopback or a sidecar. Connections are pooled and kept alive.
#[derive(Debug, Clone)]
pub struct ExternalPolicy {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    timeout: Duration,
}

impl ExternalPolicy {
    /// A client for `config.url`; fails unless it is an absolute `http://` URL.
    pub fn new(config: &ExternalOpa) -> Result<ExternalPolicy> {
        let uri: Uri = config.url.parse().map_err(|e| Error::Build {
            plugin: "opa",
            message: format!("external.url: {e}"),
        })?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(Error::Build {
                plugin: "opa",
                message: "external.url must be an absolute http:// URL".to_owned(),
            });
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(ExternalPolicy {
            client,
            uri,
            timeout: config.timeout,
        })
    }

    /// Asks OPA. Everything (connect, request, response body) is bounded by the timeout; a timeout,
    /// a transport error, a non-200 status or an unreadable answer is [`Evaluation::Unavailable`].
    pub async fn evaluate(&self, input: serde_json::Value) -> Evaluation {
        match tokio::time::timeout(self.timeout, self.ask(input)).await {
            Ok(outcome) => outcome,
            Err(_) => Evaluation::Unavailable(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn ask(&self, input: serde_json::Value) -> Evaluation {
        let body = serde_json::json!({ "input": input }).to_string();
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(Full::new(Bytes::from(body)));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Evaluation::Unavailable(format!("request: {e}")),
        };
        let response = match self.client.request(request).await {
            Ok(r) => r,
            Err(e) => return Evaluation::Unavailable(format!("request failed: {e}")),
        };
        let status = response.status();
        let body = match Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) => return Evaluation::Unavailable(format!("response body: {e}")),
        };
        if status != StatusCode::OK {
            return Evaluation::Unavailable(format!("OPA answered {status}"));
        }
        let answer: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return Evaluation::Unavailable(format!("response is not JSON: {e}")),
        };
        match answer {
            serde_json::Value::Object(mut fields) => match fields.remove("result") {
                Some(result) => Evaluation::Value(result),
                None => Evaluation::Undefined,
            },
            _ => Evaluation::Unavailable("response is not a JSON object".to_owned()),
        }
    }
}
