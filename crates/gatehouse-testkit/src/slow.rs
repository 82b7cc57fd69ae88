//! An upstream that takes its time before answering.

use std::time::Duration;

use crate::echo::echo;
use crate::upstream::{HttpMode, Upstream, spawn_http};

/// Spawns an echo upstream that waits `delay` before sending the response head
/// (for upstream timeouts: the gateway should answer `504`).
///
/// Apart from the delay it behaves exactly as [`spawn_echo`](crate::spawn_echo).
pub async fn spawn_slow(delay: Duration) -> Upstream {
    spawn_http(HttpMode::Auto, move |req, server| async move {
        tokio::time::sleep(delay).await;
        echo(req, server).await
    })
    .await
}
