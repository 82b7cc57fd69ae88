use gatehouse_config::model::RequestSizeLimitConfig;
use http::StatusCode;

use super::*;
use crate::builtin::testing::{cx, req};

fn plugin(max_bytes: u64) -> RequestSizeLimit {
    RequestSizeLimit::new(&RequestSizeLimitConfig { max_bytes })
}

#[tokio::test]
async fn too_large_content_length_is_413() {
    let p = plugin(100);
    let mut cx = cx();
    let mut parts = req("POST", &[("content-length", "101")]);
    let Flow::Respond(resp) = p.on_access(&mut cx, &mut parts).await.unwrap() else {
        panic!("expected 413");
    };
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["status"], 413);
    assert_eq!(cx.max_body_bytes, u64::MAX, "untouched on refusal");
}

#[tokio::test]
async fn within_limit_lowers_max_body_bytes() {
    let p = plugin(100);
    let mut cx = cx();
    let mut parts = req("POST", &[("content-length", "100")]);
    assert!(matches!(
        p.on_access(&mut cx, &mut parts).await.unwrap(),
        Flow::Continue
    ));
    assert_eq!(cx.max_body_bytes, 100);
}

#[tokio::test]
async fn never_raises_the_limit() {
    let p = plugin(100);
    let mut cx = cx();
    cx.max_body_bytes = 10;
    let mut parts = req("POST", &[]);
    assert!(matches!(
        p.on_access(&mut cx, &mut parts).await.unwrap(),
        Flow::Continue
    ));
    assert_eq!(cx.max_body_bytes, 10);
}

#[tokio::test]
async fn no_or_garbled_content_length_is_left_to_streaming() {
    let p = plugin(100);
    for headers in [
        &[][..],
        &[("content-length", "lots")][..],
        &[("transfer-encoding", "chunked")][..],
    ] {
        let mut cx = cx();
        let mut parts = req("POST", headers);
        assert!(matches!(
            p.on_access(&mut cx, &mut parts).await.unwrap(),
            Flow::Continue
        ));
        assert_eq!(cx.max_body_bytes, 100);
    }
}
