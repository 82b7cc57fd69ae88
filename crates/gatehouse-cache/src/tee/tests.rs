use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Empty};

use super::TeeBody;

type Seen = Arc<Mutex<Option<Bytes>>>;

fn completion(seen: &Seen) -> super::Completion {
    let seen = seen.clone();
    Box::new(move |b| *seen.lock().unwrap() = Some(b))
}

/// Frames given up front: `Ok(data)` or `Err(())` for a failing body.
struct Frames(VecDeque<Result<&'static str, ()>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = &'static str;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, &'static str>>> {
        Poll::Ready(self.0.pop_front().map(|f| {
            f.map(|s| Frame::data(Bytes::from_static(s.as_bytes())))
                .map_err(|()| "broken")
        }))
    }
}

fn frames(items: &[Result<&'static str, ()>]) -> Frames {
    Frames(items.iter().copied().collect())
}

#[tokio::test]
async fn complete_body_is_passed_through_and_handed_over() {
    let seen = Seen::default();
    let body = TeeBody::new(frames(&[Ok("ab"), Ok("cd")]), 10, completion(&seen));
    let got = body.collect().await.unwrap().to_bytes();
    assert_eq!(got, "abcd");
    assert_eq!(seen.lock().unwrap().as_deref(), Some(&b"abcd"[..]));
}

#[tokio::test]
async fn failed_body_is_never_handed_over() {
    let seen = Seen::default();
    let body = TeeBody::new(frames(&[Ok("ab"), Err(())]), 10, completion(&seen));
    assert!(body.collect().await.is_err());
    assert_eq!(*seen.lock().unwrap(), None);
}

#[tokio::test]
async fn body_past_the_limit_streams_through_unstored() {
    let seen = Seen::default();
    let body = TeeBody::new(frames(&[Ok("abc"), Ok("def")]), 4, completion(&seen));
    assert_eq!(body.collect().await.unwrap().to_bytes(), "abcdef");
    assert_eq!(*seen.lock().unwrap(), None);
}

#[tokio::test]
async fn abandoned_body_is_never_handed_over() {
    let seen = Seen::default();
    let mut body = TeeBody::new(frames(&[Ok("ab"), Ok("cd")]), 10, completion(&seen));
    let _first = body.frame().await;
    drop(body);
    assert_eq!(*seen.lock().unwrap(), None);
}

#[tokio::test]
async fn empty_body_completes_at_once() {
    let seen = Seen::default();
    let _body = TeeBody::new(Empty::<Bytes>::new(), 10, completion(&seen));
    assert_eq!(seen.lock().unwrap().as_deref(), Some(&b""[..]));
}
