//! Unit tests of the access log line pieces.

use std::time::{Duration, UNIX_EPOCH};

use super::line::{REDACTED, rfc3339};
use super::redact_query;

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
