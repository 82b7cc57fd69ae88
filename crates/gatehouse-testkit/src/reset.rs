//! An upstream that breaks its connection in the middle of a response body.

use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::upstream::{Upstream, spawn_tcp};

/// `Content-Length` announced by [`spawn_reset_mid_body`].
pub const RESET_ANNOUNCED_LEN: usize = 1000;
/// Body bytes actually sent by [`spawn_reset_mid_body`] before the reset.
pub const RESET_SENT_LEN: usize = 100;

/// Largest request head read before giving up.
const MAX_HEAD: usize = 64 * 1024;

/// Spawns a raw-TCP HTTP/1.1 upstream that, for the first request of each
/// connection, sends a `200` head with `Content-Length: 1000`, writes 100 bytes
/// of body and then resets the connection (`SO_LINGER` 0, so the peer sees RST
/// rather than FIN).
pub async fn spawn_reset_mid_body() -> Upstream {
    spawn_tcp(|mut stream, hits| async move {
        if read_head(&mut stream).await.is_none() {
            return;
        }
        hits.fetch_add(1, Ordering::SeqCst);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {RESET_ANNOUNCED_LEN}\r\n\r\n"
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(&[b'r'; RESET_SENT_LEN]);
        if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        // Zero linger: closing sends RST instead of a graceful FIN.
        let _ = stream.set_zero_linger();
        drop(stream);
    })
    .await
}

/// Reads until the end of the request head; `None` if the peer closes first or
/// the head is too large. The request body, if any, is ignored.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(head)
}
