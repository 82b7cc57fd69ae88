//! The breaker state machine with tokio's clock paused: every transition, the minimum volume of
//! the ratio trigger, the rolling window and the probe limit.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_config::model::CircuitBreaker;

use super::{Admission, Breaker, CircuitState, Circuits};

fn cfg(consecutive: u32, ratio: f64, min_requests: u32, probes: u32) -> CircuitBreaker {
    CircuitBreaker {
        consecutive_failures: consecutive,
        failure_ratio: ratio,
        window: Duration::from_secs(10),
        min_requests,
        cool_down: Duration::from_secs(30),
        half_open_probes: probes,
    }
}

fn breaker(c: CircuitBreaker) -> Breaker {
    Breaker::new(&c, Arc::from("api"), Arc::from("10.0.0.1:80"))
}

/// Admits and records one request.
fn call(b: &Breaker, ok: bool) {
    let permit = b.admit().expect("admitted");
    b.record(permit, ok);
    b.release(permit);
}

async fn advance(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_open_and_a_success_resets_the_count() {
    let b = breaker(cfg(3, 0.0, 1, 1));
    call(&b, false);
    call(&b, false);
    call(&b, true);
    call(&b, false);
    call(&b, false);
    assert_eq!(b.state(), CircuitState::Closed);
    call(&b, false);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.transitions(CircuitState::Open), 1);
    assert_eq!(b.admit(), Err(Duration::from_secs(30)));
    advance(10).await;
    assert_eq!(b.admit(), Err(Duration::from_secs(20)));
    assert!(!b.could_admit());
}

#[tokio::test(start_paused = true)]
async fn cool_down_leads_to_half_open_with_limited_probes_that_close_it() {
    let b = breaker(cfg(1, 0.0, 1, 2));
    call(&b, false);
    assert_eq!(b.state(), CircuitState::Open);
    advance(30).await;
    assert!(b.could_admit());
    let first = b.admit().expect("first probe");
    assert_eq!(b.state(), CircuitState::HalfOpen);
    let second = b.admit().expect("second probe");
    assert_eq!(b.admit(), Err(Duration::ZERO), "only 2 probes at once");
    assert!(!b.could_admit());
    b.record(first, true);
    b.release(first);
    assert_eq!(b.state(), CircuitState::HalfOpen, "one success of two");
    let third = b.admit().expect("a released slot admits a new probe");
    b.record(second, true);
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.transitions(CircuitState::Closed), 1);
    assert_eq!(b.transitions(CircuitState::HalfOpen), 1);
    // A probe of the finished episode changes nothing, and its release frees nothing.
    b.record(third, false);
    b.release(third);
    b.release(second);
    assert_eq!(b.state(), CircuitState::Closed);
    call(&b, true);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_a_fresh_cool_down() {
    let b = breaker(cfg(1, 0.0, 1, 3));
    call(&b, false);
    advance(31).await;
    let probe = b.admit().expect("probe");
    let other = b.admit().expect("second probe");
    b.record(probe, false);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.transitions(CircuitState::Open), 2);
    assert_eq!(b.admit(), Err(Duration::from_secs(30)));
    // The other probe of the failed episode is ignored.
    b.record(other, true);
    assert_eq!(b.state(), CircuitState::Open);
    advance(30).await;
    for _ in 0..3 {
        call(&b, true);
    }
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn ratio_needs_the_minimum_volume() {
    // Consecutive trigger off: only the ratio can open it.
    let b = breaker(cfg(0, 0.5, 10, 1));
    for _ in 0..9 {
        call(&b, false);
    }
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "9 requests < min_requests 10"
    );
    call(&b, false);
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn ratio_counts_only_the_rolling_window() {
    let b = breaker(cfg(0, 0.5, 10, 1));
    for _ in 0..4 {
        call(&b, false);
    }
    call(&b, true);
    // 11 s later those 5 have left the 10 s window.
    advance(11).await;
    for _ in 0..5 {
        call(&b, true);
    }
    for _ in 0..4 {
        call(&b, false);
    }
    assert_eq!(b.state(), CircuitState::Closed, "4 of 9 in the window");
    call(&b, false);
    assert_eq!(b.state(), CircuitState::Open, "5 of 10 = 0.5");
}

#[tokio::test(start_paused = true)]
async fn ratio_below_the_threshold_keeps_it_closed() {
    let b = breaker(cfg(0, 0.5, 10, 1));
    for i in 0..100 {
        call(&b, i % 3 != 0);
    }
    assert_eq!(b.state(), CircuitState::Closed, "a third failing < 0.5");
}

#[tokio::test(start_paused = true)]
async fn results_admitted_while_closed_are_ignored_once_open() {
    let b = breaker(cfg(2, 0.0, 1, 1));
    let late = b.admit().expect("admitted");
    call(&b, false);
    call(&b, false);
    assert_eq!(b.state(), CircuitState::Open);
    b.record(late, true);
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn cluster_and_target_permits_are_released_on_drop() {
    let c = cfg(1, 0.0, 1, 1);
    let circuits = Circuits::new(&c, "api", &["a:1".to_owned(), "b:2".to_owned()]);
    {
        let mut admission = Admission::cluster(&circuits).expect("closed");
        admission.target(1).expect("closed");
        admission.record(false);
    }
    assert_eq!(circuits.cluster.state(), CircuitState::Open);
    assert_eq!(circuits.targets[1].state(), CircuitState::Open);
    assert_eq!(circuits.targets[0].state(), CircuitState::Closed);
    assert!(!circuits.target_could_admit(1));
    assert_eq!(circuits.shortest_open(), Some(Duration::from_secs(30)));
    assert!(Admission::cluster(&circuits).is_err());
    advance(30).await;
    {
        let _probe = Admission::cluster(&circuits).expect("probe");
        assert!(
            Admission::cluster(&circuits).is_err(),
            "one probe at a time"
        );
    }
    // The dropped probe gave its slot back without a result.
    let admission = Admission::cluster(&circuits).expect("slot given back");
    admission.record(true);
    assert_eq!(circuits.cluster.state(), CircuitState::Closed);
}

#[test]
fn window_buckets_from_an_earlier_lap_count_as_empty() {
    let w = super::window::Window::new(Duration::from_secs(10));
    w.record(0, true);
    w.record(500, false);
    w.record(9_999, true);
    assert_eq!(w.counts(9_999), (3, 2));
    // 10 s later bucket 0 is reused: the old counts are gone.
    w.record(10_000, false);
    assert_eq!(w.counts(10_000), (2, 1));
    assert_eq!(w.counts(30_000), (0, 0));
    w.reset();
    assert_eq!(w.counts(10_000), (0, 0));
}
