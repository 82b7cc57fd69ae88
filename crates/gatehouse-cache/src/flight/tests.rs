use std::sync::Arc;
use std::time::Duration;

use super::{Flights, Join};

#[tokio::test(start_paused = true)]
async fn one_leader_followers_released_when_it_is_done() {
    let flights = Arc::new(Flights::default());
    let Join::Leader(guard) = flights.join("k") else {
        panic!("first is the leader")
    };
    let Join::Follower(f) = flights.join("k") else {
        panic!("second follows")
    };
    assert!(matches!(flights.join("other"), Join::Leader(_)));
    let waiter = tokio::spawn(f.wait(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(guard);
    assert!(waiter.await.unwrap(), "released before the limit");
    assert!(flights.is_empty());
    assert!(matches!(flights.join("k"), Join::Leader(_)));
}

#[tokio::test(start_paused = true)]
async fn followers_give_up_after_the_lock_timeout() {
    let flights = Arc::new(Flights::default());
    let _guard = flights.join("k");
    let Join::Follower(f) = flights.join("k") else {
        panic!("second follows")
    };
    assert!(!f.wait(Duration::from_millis(100)).await);
}
