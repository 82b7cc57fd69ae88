//! A small outbound HTTP/1.1 client for plugins that call side services (OAuth2 introspection,
//! JWKS / OpenID discovery, external OPA): GET and form POST, each bounded by a timeout and a
//! response-body size cap, over plain TCP or TLS (rustls with the aws-lc-rs provider, public web
//! PKI roots from `webpki-roots`).
//!
//! Shared module: `oauth2_introspection` uses [`HttpClient::post_form`]; the `jwt` plugin (JWKS,
//! discovery) is meant to use [`HttpClient::get`] rather than build a second client. Connections
//! are pooled (keep-alive) per client. Nothing here logs request bodies or headers, so callers may
//! pass credentials.

mod connector;

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use connector::Connector;

/// Idle pooled connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why a side-service call failed. Messages never contain request bodies or credentials.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an absolute `http://` or `https://` URL with a host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The whole exchange took longer than the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Connecting, TLS, or the HTTP exchange failed.
    #[error("request failed: {0}")]
    Transport(String),
    /// The response body exceeded the size cap.
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

/// A response read whole.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers (e.g. `Cache-Control` for JWKS).
    pub headers: HeaderMap,
    /// Body, at most the cap given to the call.
    pub body: Bytes,
}

/// A pooled client for side services. Cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client whose connects (TCP + TLS) are bounded by `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Result<HttpClient, HttpError> {
        let connector = Connector::new(connect_timeout)?;
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE);
        Ok(HttpClient {
            client: builder.build(connector),
        })
    }

    /// Checks that `url` is an absolute `http`/`https` URL with a host (for build-time checks).
    pub fn parse_url(url: &str) -> Result<Uri, HttpError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| HttpError::InvalidUrl(url.to_owned()))?;
        match (uri.scheme_str(), uri.host()) {
            (Some("http" | "https"), Some(h)) if !h.is_empty() => Ok(uri),
            _ => Err(HttpError::InvalidUrl(url.to_owned())),
        }
    }

    /// `GET url` with `Accept: application/json`; the whole exchange within `timeout`, the body
    /// capped at `max_body` bytes.
    pub async fn get(
        &self,
        url: &Uri,
        timeout: Duration,
        max_body: usize,
    ) -> Result<HttpResponse, HttpError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(url.clone())
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
        self.exchange(req, timeout, max_body).await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body built from `form` (each name
    /// and value encoded) and the extra `headers` (e.g. `Authorization`); the whole exchange
    /// within `timeout`, the body capped at `max_body` bytes.
    pub async fn post_form(
        &self,
        url: &Uri,
        form: &[(&str, &str)],
        headers: HeaderMap,
        timeout: Duration,
        max_body: usize,
    ) -> Result<HttpResponse, HttpError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .body(Full::new(Bytes::from(encode_form(form))))
            .map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
        *req.headers_mut() = headers;
        req.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        req.headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        self.exchange(req, timeout, max_body).await
    }

    async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<HttpResponse, HttpError> {
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| HttpError::Transport(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge(max_body)
                    } else {
                        HttpError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(timeout))?
    }
}

/// `application/x-www-form-urlencoded` serialization of `pairs`.
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(form_urlencoded::byte_serialize(name.as_bytes()));
        out.push('=');
        out.extend(form_urlencoded::byte_serialize(value.as_bytes()));
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
