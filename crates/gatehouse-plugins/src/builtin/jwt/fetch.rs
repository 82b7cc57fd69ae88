//! GETs of JWKS and discovery documents through the shared side-service client
//! ([`crate::http_client`]: pooled HTTP/1.1, rustls with aws-lc-rs and the webpki roots), and the
//! `Cache-Control` lifetime of what was fetched.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, header};

use crate::http_client::HttpClient;

/// Largest key document accepted.
const MAX_BODY: usize = 1 << 20;

/// GETs `url` within `timeout`; a non-2xx status is an error. Returns the headers and the body.
pub async fn get(
    client: &HttpClient,
    url: &str,
    timeout: Duration,
) -> Result<(HeaderMap, Bytes), String> {
    let uri = HttpClient::parse_url(url).map_err(|e| e.to_string())?;
    let response = client
        .get(&uri, timeout, MAX_BODY)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.status.is_success() {
        return Err(format!("{url}: status {}", response.status));
    }
    Ok((response.headers, response.body))
}

/// `max-age` of a `Cache-Control` header (`no-store`/`no-cache` count as 0).
pub fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}
