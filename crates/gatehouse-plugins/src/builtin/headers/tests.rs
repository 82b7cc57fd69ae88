use gatehouse_config::model::HeaderOps;
use http::{HeaderName, HeaderValue};

use super::*;
use crate::builtin::testing::{cx, req, resp, values};

fn n(s: &'static str) -> HeaderName {
    HeaderName::from_static(s)
}

fn v(s: &'static str) -> HeaderValue {
    HeaderValue::from_static(s)
}

#[test]
fn ops_run_in_order_remove_rename_set_add() {
    let ops = HeaderOps {
        // `add` runs last: appends to the value `set` left.
        add: vec![(n("x-a"), v("added")), (n("x-new"), v("n1"))],
        set: vec![(n("x-a"), v("set")), (n("x-to"), v("set-after-rename"))],
        // `remove` runs first: the renamed header is not removed afterwards.
        remove: vec![(n("x-gone")), n("x-to")],
        rename: vec![(n("x-from"), n("x-renamed"))],
    };
    let mut parts = req(
        "GET",
        &[
            ("x-a", "old"),
            ("x-gone", "1"),
            ("x-gone", "2"),
            ("x-from", "f1"),
            ("x-from", "f2"),
            ("x-renamed", "previous"),
            ("x-keep", "k"),
        ],
    );
    apply(&ops, &mut parts.headers);
    let h = &parts.headers;
    assert_eq!(values(h, "x-a"), ["set", "added"]);
    assert!(h.get("x-gone").is_none());
    assert!(h.get("x-from").is_none());
    assert_eq!(
        values(h, "x-renamed"),
        ["f1", "f2"],
        "all values kept, target replaced"
    );
    assert_eq!(values(h, "x-to"), ["set-after-rename"]);
    assert_eq!(values(h, "x-new"), ["n1"]);
    assert_eq!(values(h, "x-keep"), ["k"]);
}

#[test]
fn rename_of_absent_header_keeps_target() {
    let ops = HeaderOps {
        rename: vec![(n("x-from"), n("x-to")), (n("x-same"), n("x-same"))],
        ..HeaderOps::default()
    };
    let mut parts = req("GET", &[("x-to", "t"), ("x-same", "s")]);
    apply(&ops, &mut parts.headers);
    assert_eq!(values(&parts.headers, "x-to"), ["t"]);
    assert_eq!(values(&parts.headers, "x-same"), ["s"]);
}

#[tokio::test]
async fn request_plugin_edits_the_upstream_request() {
    let p = RequestHeaders::new(&HeaderOps {
        set: vec![(n("x-env"), v("prod"))],
        remove: vec![n("cookie")],
        ..HeaderOps::default()
    });
    assert_eq!(p.phases(), Phases::UPSTREAM_REQUEST);
    assert_eq!(p.priority(), 1000);
    let mut cx = cx();
    let mut parts = req("GET", &[("cookie", "a=b"), ("x-env", "dev")]);
    let flow = p.on_upstream_request(&mut cx, &mut parts).await.unwrap();
    assert!(matches!(flow, Flow::Continue));
    assert!(parts.headers.get("cookie").is_none());
    assert_eq!(values(&parts.headers, "x-env"), ["prod"]);
}

#[tokio::test]
async fn response_plugin_edits_the_response() {
    let p = ResponseHeaders::new(&HeaderOps {
        add: vec![(n("x-frame-options"), v("DENY"))],
        remove: vec![n("server")],
        ..HeaderOps::default()
    });
    assert_eq!(p.phases(), Phases::RESPONSE);
    let mut cx = cx();
    let mut parts = resp(200, &[("server", "origin/1.0")]);
    p.on_response(&mut cx, &mut parts).await.unwrap();
    assert!(parts.headers.get("server").is_none());
    assert_eq!(values(&parts.headers, "x-frame-options"), ["DENY"]);
}
