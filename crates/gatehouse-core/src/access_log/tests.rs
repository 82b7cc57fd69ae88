//! Unit tests of the access log line pieces.

use std::time::{Duration, UNIX_EPOCH};

use super::line::{REDACTED, rfc3339, write_u64};
use super::redact_query;
use super::{IP_MAX, ip_text};

#[test]
fn configured_query_parameters_are_redacted() {
    let redact = vec!["token".to_owned(), "api_key".to_owned()];
    assert_eq!(
        redact_query("a=1&token=s3cret&API_KEY=k&b", &redact),
        format!("a=1&token={REDACTED}&API_KEY={REDACTED}&b")
    );
    assert_eq!(
        redact_query("to%6Ben=s3cret", &redact),
        format!("to%6Ben={REDACTED}")
    );
    assert_eq!(redact_query("x=token", &redact), "x=token");
}

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
    assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    let t = UNIX_EPOCH + Duration::from_secs(4_107_542_399);
    assert_eq!(rfc3339(t), "2100-02-28T23:59:59.000Z");
}

#[test]
fn ip_addresses_and_numbers_are_written_as_display_would() {
    let ips = [
        "0.0.0.0",
        "9.10.99.100",
        "255.255.255.255",
        "127.0.0.1",
        "::1",
        "2001:db8::8a2e:370:7334",
        "::ffff:255.255.255.255",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ];
    for text in ips {
        let ip: std::net::IpAddr = text.parse().unwrap();
        let mut buf = [0u8; IP_MAX];
        assert_eq!(ip_text(ip, &mut buf), ip.to_string());
    }
    for n in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
        let mut out = Vec::new();
        write_u64(&mut out, n);
        assert_eq!(out, n.to_string().into_bytes());
    }
}

#[test]
fn cached_timestamp_prefix_follows_the_second() {
    let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_999);
    assert_eq!(rfc3339(t), "2023-11-14T22:13:20.999Z");
    let next = t + Duration::from_millis(1);
    assert_eq!(rfc3339(next), "2023-11-14T22:13:21.000Z");
    assert_eq!(rfc3339(t), "2023-11-14T22:13:20.999Z");
}
