//! The resident-memory sampler and the `Retry-After` of shedding errors.

use std::time::Duration;

use super::memory::{INTERVAL, Sampler, in_use, resident_bytes};
use crate::Error;

#[test]
fn resident_set_is_read_from_proc() {
    let bytes = resident_bytes().expect("/proc/self/statm");
    // A test binary with a tokio runtime is well above 1 MiB and below 64 GiB.
    assert!((1 << 20..64 << 30).contains(&bytes), "{bytes}");
}

#[tokio::test]
async fn sampler_has_a_first_sample_at_once_and_stops_when_dropped() {
    let sampler = Sampler::start(Default::default()).expect("runtime");
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
    assert!(Sampler::start(Default::default()).is_err());
}

#[test]
fn memory_kept_while_idle_is_not_in_use() {
    const MIB: u64 = 1 << 20;
    // Idle at 20 MiB; a burst took it to 90 MiB.
    assert_eq!(in_use(20 * MIB, 20 * MIB, 90 * MIB), 90 * MIB);
    // The burst is over and nothing is in flight: the 60 MiB glibc keeps are not in use.
    assert_eq!(in_use(20 * MIB, 80 * MIB, 80 * MIB), 20 * MIB);
    // New work grows it again from there.
    assert_eq!(in_use(20 * MIB, 80 * MIB, 95 * MIB), 35 * MIB);
    // The allocator gave memory back while busy.
    assert_eq!(in_use(20 * MIB, 80 * MIB, 50 * MIB), 20 * MIB);
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
