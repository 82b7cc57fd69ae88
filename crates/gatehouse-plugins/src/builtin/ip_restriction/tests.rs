use std::net::IpAddr;

use gatehouse_config::model::IpRestrictionConfig;
use http::StatusCode;

use super::*;
use crate::builtin::testing::{cx_from, req};

fn plugin(allow: &[&str], deny: &[&str], status: u16) -> IpRestriction {
    IpRestriction::new(&IpRestrictionConfig {
        allow: allow.iter().map(|s| s.parse().unwrap()).collect(),
        deny: deny.iter().map(|s| s.parse().unwrap()).collect(),
        status,
    })
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipv4_allow_and_deny() {
    let p = plugin(&["10.0.0.0/8", "192.0.2.7/32"], &["10.1.0.0/16"], 403);
    assert!(p.allows(ip("10.2.3.4")));
    assert!(p.allows(ip("192.0.2.7")));
    assert!(!p.allows(ip("10.1.2.3")), "deny wins over allow");
    assert!(!p.allows(ip("192.0.2.8")), "not in a non-empty allow list");
    assert!(!p.allows(ip("2001:db8::1")));
}

#[test]
fn empty_allow_list_allows_all_but_denied() {
    let p = plugin(&[], &["203.0.113.0/24", "2001:db8:bad::/48"], 403);
    assert!(p.allows(ip("198.51.100.1")));
    assert!(p.allows(ip("2001:db8::1")));
    assert!(!p.allows(ip("203.0.113.9")));
    assert!(!p.allows(ip("2001:db8:bad::1")));
}

#[test]
fn ipv6_networks() {
    let p = plugin(&["2001:db8::/32", "::1/128"], &[], 403);
    assert!(p.allows(ip("2001:db8:1::5")));
    assert!(p.allows(ip("::1")));
    assert!(!p.allows(ip("2001:db9::1")));
    assert!(!p.allows(ip("127.0.0.1")));
}

#[test]
fn ipv4_mapped_addresses_are_ipv4() {
    let p = plugin(&["192.0.2.0/24"], &["192.0.2.66/32"], 403);
    assert!(p.allows(ip("::ffff:192.0.2.1")));
    assert!(
        !p.allows(ip("::ffff:192.0.2.66")),
        "deny matches the mapped address"
    );
    assert!(!p.allows(ip("::ffff:198.51.100.1")));
    // A mapped network in config matches plain IPv4 clients too.
    let p = plugin(&["::ffff:198.51.100.0/120"], &[], 403);
    assert!(p.allows(ip("198.51.100.20")));
    assert!(p.allows(ip("::ffff:198.51.100.20")));
    assert!(!p.allows(ip("198.51.101.20")));
}

#[test]
fn invalid_status_is_a_build_error() {
    let config = IpRestrictionConfig {
        allow: vec![],
        deny: vec![],
        status: 1000,
    };
    assert!(matches!(
        IpRestriction::new(&config),
        Err(crate::Error::Build { .. })
    ));
}

#[tokio::test]
async fn refusal_is_problem_json_with_configured_status() {
    let p = plugin(&["10.0.0.0/8"], &[], 404);
    let mut cx = cx_from(ip("192.0.2.1"));
    let mut parts = req("GET", &[]);
    let Flow::Respond(resp) = p.on_access(&mut cx, &mut parts).await.unwrap() else {
        panic!("expected a refusal");
    };
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["request_id"], "gen-id");

    let mut cx = cx_from(ip("10.9.9.9"));
    let flow = p.on_access(&mut cx, &mut parts).await.unwrap();
    assert!(matches!(flow, Flow::Continue));
}
