use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::Entry;

fn entry() -> Entry {
    let mut headers = HeaderMap::new();
    headers.insert("etag", "\"v1\"".parse().unwrap());
    headers.append("x-a", "1".parse().unwrap());
    headers.append("x-a", "2".parse().unwrap());
    Entry {
        status: StatusCode::NOT_FOUND,
        headers,
        body: Bytes::from_static(b"hello"),
        stored_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        initial_age: Duration::from_secs(3),
        fresh_for: Duration::from_secs(60),
        stale_while_revalidate: Duration::from_secs(5),
        stale_if_error: Duration::from_secs(7),
    }
}

#[test]
fn encode_decode_round_trip() {
    let e = entry();
    assert_eq!(Entry::decode(e.encode()), Some(e));
}

#[test]
fn corrupt_or_foreign_values_are_none() {
    let bytes = entry().encode();
    for cut in [0, 4, 20, 60, 70] {
        assert_eq!(Entry::decode(bytes.slice(..cut)), None, "cut at {cut}");
    }
    assert_eq!(
        Entry::decode(Bytes::from_static(
            b"something else entirely, long enough to parse"
        )),
        None
    );
}

#[test]
fn age_freshness_and_staleness() {
    let mut e = entry();
    e.stored_at = SystemTime::now();
    let now = e.stored_at + Duration::from_secs(10);
    assert_eq!(e.age(now), Duration::from_secs(13));
    assert!(e.is_fresh(now));
    let later = e.stored_at + Duration::from_secs(60);
    assert!(!e.is_fresh(later));
    assert_eq!(e.staleness(later), Duration::from_secs(3));
    assert!(e.has_validator());
}
