use std::net::IpAddr;

use super::PerIp;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn zero_means_unlimited() {
    assert!(PerIp::new(0).is_none());
}

#[test]
fn caps_each_address_and_frees_on_drop() {
    let table = PerIp::new(2).unwrap();
    let a1 = table.try_acquire(ip("10.0.0.1")).expect("first");
    let a2 = table.try_acquire(ip("10.0.0.1")).expect("second");
    assert!(
        table.try_acquire(ip("10.0.0.1")).is_none(),
        "third over cap"
    );
    // Another address has its own count.
    let b1 = table.try_acquire(ip("10.0.0.2")).expect("other address");
    assert_eq!(table.tracked(), 2);
    drop(a1);
    let a3 = table.try_acquire(ip("10.0.0.1")).expect("a slot was freed");
    drop((a2, a3, b1));
    assert_eq!(table.tracked(), 0, "entries go away at zero");
}

#[test]
fn refused_attempts_leave_no_entry_behind() {
    let table = PerIp::new(1).unwrap();
    let held = table.try_acquire(ip("192.0.2.1")).unwrap();
    for _ in 0..1000 {
        assert!(table.try_acquire(ip("192.0.2.1")).is_none());
    }
    assert_eq!(table.tracked(), 1);
    drop(held);
    assert_eq!(table.tracked(), 0);
}

#[test]
fn ipv4_mapped_counts_as_ipv4_and_ipv6_per_64() {
    let table = PerIp::new(1).unwrap();
    let _v4 = table.try_acquire(ip("192.0.2.7")).unwrap();
    assert!(table.try_acquire(ip("::ffff:192.0.2.7")).is_none());
    let _v6 = table.try_acquire(ip("2001:db8:1:2::1")).unwrap();
    assert!(
        table.try_acquire(ip("2001:db8:1:2:ffff::9")).is_none(),
        "same /64"
    );
    assert!(
        table.try_acquire(ip("2001:db8:1:3::1")).is_some(),
        "another /64"
    );
}

#[test]
fn memory_is_given_back_after_a_burst_of_addresses() {
    let table = PerIp::new(1).unwrap();
    let slots: Vec<_> = (0..5000u32)
        .map(|i| table.try_acquire(IpAddr::from(i.to_be_bytes())).unwrap())
        .collect();
    assert_eq!(table.tracked(), 5000);
    drop(slots);
    assert_eq!(table.tracked(), 0);
    let capacity = table.counts.lock().unwrap().capacity();
    assert!(capacity <= 2 * super::SHRINK_ABOVE, "{capacity}");
}
