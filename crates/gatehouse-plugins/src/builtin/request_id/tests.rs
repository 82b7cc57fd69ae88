use gatehouse_config::model::RequestIdConfig;
use http::header::HeaderName;

use super::*;
use crate::builtin::testing::{cx, req, resp, values};

fn plugin(header: &'static str, trust: bool, echo: bool) -> RequestId {
    RequestId::new(&RequestIdConfig {
        header: HeaderName::from_static(header),
        trust_incoming: trust,
        echo_in_response: echo,
    })
}

#[test]
fn well_formed_ids() {
    assert!(is_well_formed(b"abc-123"));
    assert!(is_well_formed(b"!~"));
    assert!(is_well_formed(&[b'a'; MAX_LEN]));
    assert!(!is_well_formed(b""));
    assert!(!is_well_formed(&[b'a'; MAX_LEN + 1]));
    assert!(!is_well_formed(b"has space"));
    assert!(!is_well_formed(b"tab\t"));
    assert!(!is_well_formed("é".as_bytes()));
}

#[tokio::test]
async fn trusted_incoming_id_is_adopted() {
    let p = plugin("x-correlation-id", true, true);
    let mut cx = cx();
    let mut req = req("GET", &[("x-correlation-id", "client-1")]);
    p.on_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(cx.request_id, "client-1");
    assert_eq!(values(&req.headers, "x-correlation-id"), ["client-1"]);
}

#[tokio::test]
async fn malformed_incoming_id_is_replaced() {
    let p = plugin("x-correlation-id", true, true);
    for bad in ["has space", &"a".repeat(201)] {
        let mut cx = cx();
        let mut req = req("GET", &[("x-correlation-id", bad)]);
        p.on_request(&mut cx, &mut req).await.unwrap();
        assert_eq!(cx.request_id, "gen-id");
        assert_eq!(values(&req.headers, "x-correlation-id"), ["gen-id"]);
    }
}

#[tokio::test]
async fn several_incoming_values_are_not_trusted() {
    let p = plugin("x-correlation-id", true, false);
    let mut cx = cx();
    let mut req = req(
        "GET",
        &[("x-correlation-id", "a"), ("x-correlation-id", "b")],
    );
    p.on_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(cx.request_id, "gen-id");
    assert_eq!(values(&req.headers, "x-correlation-id"), ["gen-id"]);
}

#[tokio::test]
async fn untrusted_incoming_id_is_overwritten() {
    let p = plugin("x-correlation-id", false, true);
    let mut cx = cx();
    let mut req = req("GET", &[("x-correlation-id", "client-1")]);
    p.on_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(cx.request_id, "gen-id");
    assert_eq!(values(&req.headers, "x-correlation-id"), ["gen-id"]);
}

#[tokio::test]
async fn untrusted_id_adopted_by_the_data_plane_is_regenerated() {
    let p = plugin("x-request-id", false, true);
    let mut cx = cx();
    cx.request_id = "client-1".to_owned();
    let mut req = req("GET", &[("x-request-id", "client-1")]);
    p.on_request(&mut cx, &mut req).await.unwrap();
    assert_ne!(cx.request_id, "client-1");
    assert_eq!(cx.request_id.len(), 36, "a UUID");
    assert_eq!(
        values(&req.headers, "x-request-id"),
        [cx.request_id.clone()]
    );
    // Decided once: the upstream hook keeps the new id.
    let id = cx.request_id.clone();
    p.on_upstream_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(cx.request_id, id);
}

#[tokio::test]
async fn missing_header_is_set_and_echoed() {
    let p = plugin("x-correlation-id", true, true);
    let mut cx = cx();
    let mut req = req("GET", &[]);
    p.on_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(values(&req.headers, "x-correlation-id"), ["gen-id"]);
    let mut resp = resp(200, &[("x-correlation-id", "upstream")]);
    p.on_response(&mut cx, &mut resp).await.unwrap();
    assert_eq!(values(&resp.headers, "x-correlation-id"), ["gen-id"]);
}

#[tokio::test]
async fn no_echo_when_disabled() {
    let p = plugin("x-request-id", true, false);
    assert!(!p.phases().contains(Phases::RESPONSE));
    let mut cx = cx();
    let mut resp = resp(200, &[]);
    p.on_response(&mut cx, &mut resp).await.unwrap();
    assert!(resp.headers.get("x-request-id").is_none());
}

#[tokio::test]
async fn works_as_a_route_plugin_in_the_upstream_phase() {
    let p = plugin("x-correlation-id", true, true);
    let mut cx = cx();
    let mut req = req("GET", &[("x-correlation-id", "client-9")]);
    p.on_upstream_request(&mut cx, &mut req).await.unwrap();
    assert_eq!(cx.request_id, "client-9");
    assert_eq!(values(&req.headers, "x-correlation-id"), ["client-9"]);
}
