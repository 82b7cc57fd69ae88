//! The resident-memory sampler and the `Retry-After` of shedding errors.

use std::time::Duration;

use super::memory::{INTERVAL, Sampler, resident_bytes};
use crate::Error;

#[test]
fn resident_set_is_read_from_proc() {
    let bytes = resident_bytes().expect("/proc/self/statm");
    // A test binary with a tokio runtime is well above 1 MiB and below 64 GiB.
    assert!((1 << 20..64 << 30).contains(&bytes), "{bytes}");
}

#[tokio::test]
async fn sampler_has_a_first_sample_at_once_and_stops_when_dropped() {
    let sampler = Sampler::start().expect("runtime");
    assert!(sampler.bytes() > 1 << 20);
    let task = sampler.task.clone();
    tokio::time::sleep(INTERVAL * 2).await;
    assert!(sampler.bytes() > 1 << 20);
    drop(sampler);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(task.is_finished());
}

#[test]
fn sampler_needs_a_runtime() {
    assert!(Sampler::start().is_err());
}

#[test]
fn shed_and_circuit_errors_carry_retry_after_rounded_up() {
    let e = Error::Overloaded {
        reason: "in_flight",
        retry_after: Duration::from_millis(1500),
    };
    let r = e.to_response("id");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    let e = Error::CircuitOpen {
        retry_after: Duration::ZERO,
    };
    assert_eq!(e.to_response("id").headers()["retry-after"], "1");
    assert!(
        Error::NoHealthyTarget
            .to_response("id")
            .headers()
            .get("retry-after")
            .is_none()
    );
}
