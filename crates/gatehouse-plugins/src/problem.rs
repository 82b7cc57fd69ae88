//! RFC 9457 problem details: the one shape of every response Gatehouse generates itself.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

/// Media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Builds an `application/problem+json` response (RFC 9457):
///
/// ```json
/// {"type":"about:blank","title":"Forbidden","status":403,"detail":"...","request_id":"..."}
/// ```
///
/// `title` is the status's canonical reason phrase (`"Error"` for a status without one). `detail`
/// and `request_id` may contain anything: they are JSON-escaped, never interpolated. The response
/// carries `Content-Type` and `Content-Length`; nothing else.
pub fn problem_response(status: StatusCode, detail: &str, request_id: &str) -> Response<Bytes> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "request_id": request_id,
    })
    .to_string();
    let len = body.len();
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_escaped_problem_json() {
        let resp = problem_response(StatusCode::FORBIDDEN, "no \"quotes\"\n</x>", "id-\u{1}");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            resp.headers()[CONTENT_LENGTH].to_str().unwrap(),
            resp.body().len().to_string()
        );
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["title"], "Forbidden");
        assert_eq!(v["status"], 403);
        assert_eq!(v["detail"], "no \"quotes\"\n</x>");
        assert_eq!(v["request_id"], "id-\u{1}");
    }

    #[test]
    fn unknown_status_has_a_title() {
        let status = StatusCode::from_u16(599).unwrap();
        let resp = problem_response(status, "d", "r");
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["title"], "Error");
        assert_eq!(v["status"], 599);
    }
}
