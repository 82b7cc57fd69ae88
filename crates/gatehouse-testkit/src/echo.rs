//! The echo upstream: answers every request with a JSON description of it.
//!
//! Special paths (everything else echoes with `200`):
//! - `/status/{code}`: the echo JSON with status `code`.
//! - `/big/{n}`: `n` bytes of `b'x'` streamed in 64 KiB chunks, with `Content-Length: n`.
//! - `/headers?set=name:value[&set=…]`: the echo JSON plus those response headers
//!   (the query value is percent-decoded, `+` means space).
//! - `/slow-body/{ms}`: a first chunk `first\n`, a pause of `ms` milliseconds,
//!   then `rest\n` (chunked, no `Content-Length`).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::upstream::{BoxError, HttpMode, ResponseBody, Upstream, spawn_http};

/// Size of the chunks `/big/{n}` streams.
pub const BIG_CHUNK: usize = 64 * 1024;

/// Spawns the echo upstream (HTTP/1.1 and h2c, detected per connection).
///
/// See the module docs for the JSON fields and the special paths.
pub async fn spawn_echo() -> Upstream {
    spawn_http(HttpMode::Auto, echo).await
}

/// Spawns the echo upstream speaking only HTTP/2 over plain text with prior
/// knowledge (h2c); the echo JSON's `"version"` field tells what it saw
/// (`"HTTP/2.0"`). HTTP/1.1 requests are refused at the connection level.
pub async fn spawn_h2_echo() -> Upstream {
    spawn_http(HttpMode::Http2Only, echo).await
}

/// The echo handler, shared by every upstream that echoes.
pub(crate) async fn echo(req: Request<Incoming>, server: SocketAddr) -> Response<ResponseBody> {
    let path = req.uri().path().to_owned();
    if let Some(n) = path.strip_prefix("/big/") {
        return match n.parse::<u64>() {
            Ok(n) => big(n),
            Err(_) => text(StatusCode::BAD_REQUEST, "bad /big/{n}"),
        };
    }
    if let Some(ms) = path.strip_prefix("/slow-body/") {
        return match ms.parse::<u64>() {
            Ok(ms) => slow_body(Duration::from_millis(ms)),
            Err(_) => text(StatusCode::BAD_REQUEST, "bad /slow-body/{ms}"),
        };
    }
    let status = match path.strip_prefix("/status/") {
        Some(code) => match code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => status,
            None => return text(StatusCode::BAD_REQUEST, "bad /status/{code}"),
        },
        None => StatusCode::OK,
    };
    let extra_headers = if path == "/headers" {
        match headers_to_set(req.uri().query().unwrap_or("")) {
            Ok(headers) => headers,
            Err(msg) => return text(StatusCode::BAD_REQUEST, &msg),
        }
    } else {
        HeaderMap::new()
    };

    let mut response = json_response(status, &describe(req, server).await);
    response.headers_mut().extend(extra_headers);
    response
}

/// Reads the whole request and describes it as the echo JSON.
pub(crate) async fn describe(req: Request<Incoming>, server: SocketAddr) -> Value {
    let (parts, body) = req.into_parts();
    let (body, trailers) = match body.collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().map(header_map_json);
            (collected.to_bytes(), trailers)
        }
        // The client went away mid-body; describe what is known.
        Err(_) => (Bytes::new(), None),
    };
    json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "version": format!("{:?}", parts.version),
        "headers": header_map_json(&parts.headers),
        "trailers": trailers,
        "body": String::from_utf8_lossy(&body),
        "body_len": body.len(),
        "server": server.to_string(),
    })
}

/// `{name: [values…]}`, values decoded lossily.
fn header_map_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let values = map
            .entry(name.as_str())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(String::from_utf8_lossy(value.as_bytes()).into());
        }
    }
    Value::Object(map)
}

/// Parses every `set=name:value` pair of a query string.
fn headers_to_set(query: &str) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for pair in query.split('&') {
        let Some(("set", raw)) = pair.split_once('=') else {
            continue;
        };
        let raw = raw.replace('+', " ");
        let decoded = percent_decode_str(&raw).decode_utf8_lossy();
        let (name, value) = decoded
            .split_once(':')
            .ok_or_else(|| format!("set={decoded}: expected name:value"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| format!("bad header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|e| format!("bad header value {value:?}: {e}"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// A body of `n` bytes of `b'x'`, produced lazily chunk by chunk (so it is only
/// generated as fast as the client reads it).
fn big(n: u64) -> Response<ResponseBody> {
    let chunk = Bytes::from(vec![b'x'; BIG_CHUNK]);
    let frames = futures_util::stream::unfold(n, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let take = left.min(BIG_CHUNK as u64) as usize;
            Some((
                Ok::<_, BoxError>(Frame::data(chunk.slice(..take))),
                left - take as u64,
            ))
        }
    });
    Response::builder()
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, n)
        .body(StreamBody::new(frames).boxed_unsync())
        .expect("valid response")
}

/// `first\n`, a pause of `pause`, then `rest\n`.
fn slow_body(pause: Duration) -> Response<ResponseBody> {
    let frames = futures_util::stream::unfold(0u8, move |step| async move {
        let data = match step {
            0 => "first\n",
            1 => {
                tokio::time::sleep(pause).await;
                "rest\n"
            }
            _ => return None,
        };
        Some((
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(data.as_bytes()))),
            step + 1,
        ))
    });
    Response::builder()
        .header(CONTENT_TYPE, "text/plain")
        .body(StreamBody::new(frames).boxed_unsync())
        .expect("valid response")
}

/// A buffered body.
pub(crate) fn full(data: impl Into<Bytes>) -> ResponseBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An `application/json` response.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(full(value.to_string()))
        .expect("valid response")
}

/// A `text/plain` response.
pub(crate) fn text(status: StatusCode, msg: &str) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain")
        .body(full(format!("{msg}\n")))
        .expect("valid response")
}
