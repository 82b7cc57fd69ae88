//! The rolling retry budget, with paused time.

use std::time::Duration;

use gatehouse_config::model::RetryBudget as Settings;

use super::RetryBudget;

fn settings(ratio: f64, min_retries: u32) -> Settings {
    Settings {
        ratio,
        window: Duration::from_secs(10),
        min_retries,
    }
}

#[tokio::test(start_paused = true)]
async fn min_retries_are_allowed_without_traffic() {
    let b = RetryBudget::new(&settings(0.2, 3));
    assert!(b.try_retry());
    assert!(b.try_retry());
    assert!(b.try_retry());
    assert!(!b.try_retry());
}

#[tokio::test(start_paused = true)]
async fn retries_stay_within_ratio_times_requests_plus_min() {
    let b = RetryBudget::new(&settings(0.2, 3));
    for _ in 0..100 {
        b.request();
    }
    let granted = (0..1000).filter(|_| b.try_retry()).count();
    assert_eq!(granted, 23);
}

#[tokio::test(start_paused = true)]
async fn the_window_rolls_over() {
    let b = RetryBudget::new(&settings(0.5, 0));
    for _ in 0..10 {
        b.request();
    }
    assert_eq!((0..100).filter(|_| b.try_retry()).count(), 5);
    // Half a window later the old counts still apply.
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!b.try_retry());
    // A whole window after they were made, requests and retries are forgotten.
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!b.try_retry());
    for _ in 0..4 {
        b.request();
    }
    assert_eq!((0..100).filter(|_| b.try_retry()).count(), 2);
    // Slots age out one by one: 9 s later the 4 requests above still count, 11 s later not.
    tokio::time::advance(Duration::from_secs(9)).await;
    assert_eq!(b.totals(b.epoch()), (4, 2));
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(b.totals(b.epoch()), (0, 0));
}
