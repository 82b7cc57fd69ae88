//! Bulkhead admission with tokio's clock paused.

use std::time::Duration;

use gatehouse_config::model::Bulkhead as BulkheadConfig;

use super::{Bulkhead, BulkheadFull};

fn bulkhead(max_concurrent: u32, max_queue: u32) -> Bulkhead {
    Bulkhead::new(&BulkheadConfig {
        max_concurrent,
        max_queue,
        queue_timeout: Duration::from_millis(100),
    })
}

#[tokio::test(start_paused = true)]
async fn full_queue_is_refused_at_once_and_a_queued_request_times_out() {
    let b = bulkhead(2, 1);
    let _a = b.acquire().await.expect("slot 1");
    let _c = b.acquire().await.expect("slot 2");
    assert_eq!(b.in_use(), 2);
    let started = tokio::time::Instant::now();
    let (queued, refused) = tokio::join!(b.acquire(), async {
        tokio::task::yield_now().await;
        b.acquire().await
    });
    assert_eq!(refused.err(), Some(BulkheadFull::QueueFull));
    assert_eq!(queued.err(), Some(BulkheadFull::QueueTimeout));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(b.rejections(), 2);
    assert_eq!(b.queued(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_released_slot_goes_to_the_queued_request() {
    let b = bulkhead(1, 5);
    let first = b.acquire().await.expect("slot");
    let (second, ()) = tokio::join!(b.acquire(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
    });
    assert!(second.is_ok());
    assert_eq!(b.in_use(), 1);
    assert_eq!(b.rejections(), 0);
}

#[tokio::test(start_paused = true)]
async fn no_queue_refuses_immediately() {
    let b = bulkhead(1, 0);
    let _a = b.acquire().await.expect("slot");
    assert_eq!(b.acquire().await.err(), Some(BulkheadFull::QueueFull));
    drop(_a);
    assert!(b.acquire().await.is_ok());
}
