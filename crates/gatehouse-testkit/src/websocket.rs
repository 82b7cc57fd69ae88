//! A WebSocket echo upstream and a minimal client for it.

use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::upstream::{Upstream, spawn_tcp};

/// A text message that the WebSocket echo answers, instead of echoing it, with
/// the JSON `{"path": …, "headers": {name: [values…]}}` of the handshake request
/// it received (to check what a proxy forwarded).
pub const WS_REQUEST_PROBE: &str = "!request";

/// Spawns a WebSocket upstream: it accepts an HTTP/1.1 upgrade on any path and
/// echoes every text and binary message back (pings are answered, close is
/// acknowledged). Each completed handshake counts as a hit.
pub async fn spawn_websocket_echo() -> Upstream {
    spawn_tcp(|stream, hits| async move {
        let mut handshake = Value::Null;
        // The callback's signature is tungstenite's, large error type included.
        #[allow(clippy::result_large_err)]
        let record = |req: &Request, resp: Response| {
            handshake = describe_handshake(req);
            Ok(resp)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
            return;
        };
        hits.fetch_add(1, Ordering::SeqCst);
        while let Some(Ok(msg)) = ws.next().await {
            let reply = match msg {
                Message::Text(ref text) if text.as_str() == WS_REQUEST_PROBE => {
                    Message::text(handshake.to_string())
                }
                Message::Text(_) | Message::Binary(_) => msg,
                // Ping/pong/close are handled by tungstenite itself.
                _ => continue,
            };
            if ws.send(reply).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// `{"path", "headers"}` of a handshake request.
fn describe_handshake(req: &Request) -> Value {
    let mut headers = Map::new();
    for (name, value) in req.headers() {
        let values = headers
            .entry(name.as_str())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(String::from_utf8_lossy(value.as_bytes()).into());
        }
    }
    json!({ "path": req.uri().path(), "headers": headers })
}

/// Connects to `url` (`ws://host[:port]/path`, no TLS), sends `msg` as a text
/// message, returns the first text or binary message received (binary decoded
/// lossily as UTF-8) and closes the connection.
pub async fn ws_roundtrip(url: &str, msg: &str) -> Result<String, WsError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| WsError::Url(UrlError::NoHostName))?;
    if uri.scheme_str() != Some("ws") {
        return Err(WsError::Url(UrlError::UnsupportedUrlScheme));
    }
    let host = uri.host().ok_or(WsError::Url(UrlError::NoHostName))?;
    // `Uri::host` keeps the brackets of an IPv6 literal; the resolver wants them off.
    let stream =
        TcpStream::connect((host.trim_matches(['[', ']']), uri.port_u16().unwrap_or(80))).await?;
    let (mut ws, _response) = tokio_tungstenite::client_async(url, stream).await?;
    ws.send(Message::text(msg)).await?;
    let reply = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => break text.as_str().to_owned(),
            Some(Ok(Message::Binary(bin))) => break String::from_utf8_lossy(&bin).into_owned(),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e),
            None => return Err(WsError::ConnectionClosed),
        }
    };
    // Best effort: the echo is already in hand.
    let _ = ws.close(None).await;
    Ok(reply)
}
