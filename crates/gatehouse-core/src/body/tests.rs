use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::{BodyReadTimedOut, LimitedBody};

/// A client body fed chunk by chunk from a channel; ends when the sender is dropped.
struct Chunks(mpsc::Receiver<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

struct Flags {
    timed_out: Arc<AtomicBool>,
    client_failed: Arc<AtomicBool>,
}

fn limited(timeout: Duration) -> (mpsc::Sender<Bytes>, LimitedBody<Chunks>, Flags) {
    let (tx, rx) = mpsc::channel(8);
    let flags = Flags {
        timed_out: Arc::default(),
        client_failed: Arc::default(),
    };
    let body = LimitedBody::new(
        Chunks(rx),
        1 << 20,
        Arc::default(),
        flags.client_failed.clone(),
    )
    .read_timeout(timeout, &flags.timed_out);
    (tx, body, flags)
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stalls_mid_body_fails_it() {
    let (tx, mut body, flags) = limited(Duration::from_secs(30));
    tx.send(Bytes::from_static(b"first")).await.unwrap();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    let started = tokio::time::Instant::now();
    let err = body.frame().await.unwrap().unwrap_err();
    assert!(err.is::<BodyReadTimedOut>(), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    assert!(flags.timed_out.load(Ordering::Acquire));
    assert!(!flags.client_failed.load(Ordering::Acquire));
    drop(tx);
}

#[tokio::test(start_paused = true)]
async fn a_slow_but_steady_client_is_fine() {
    let (tx, body, flags) = limited(Duration::from_secs(1));
    tokio::spawn(async move {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(900)).await;
            tx.send(Bytes::from_static(b"x")).await.unwrap();
        }
    });
    // 4.5 s in all, never 1 s between chunks.
    let all = body.collect().await.unwrap().to_bytes();
    assert_eq!(all, "xxxxx");
    assert!(!flags.timed_out.load(Ordering::Acquire));
}

#[tokio::test(start_paused = true)]
async fn a_consumer_that_pauses_does_not_blame_the_client() {
    let (tx, mut body, flags) = limited(Duration::from_secs(1));
    tx.send(Bytes::from_static(b"a")).await.unwrap();
    body.frame().await.unwrap().unwrap();
    // The upstream stops reading for 10 s; meanwhile the client sends the rest.
    tokio::time::sleep(Duration::from_secs(10)).await;
    tx.send(Bytes::from_static(b"b")).await.unwrap();
    drop(tx);
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "b");
    assert!(!flags.timed_out.load(Ordering::Acquire));
}

#[tokio::test(start_paused = true)]
async fn zero_is_no_limit() {
    let (tx, mut body, flags) = limited(Duration::ZERO);
    let waited = tokio::time::timeout(Duration::from_secs(3600), body.frame()).await;
    assert!(waited.is_err(), "still waiting after an hour");
    assert!(!flags.timed_out.load(Ordering::Acquire));
    drop(tx);
}
