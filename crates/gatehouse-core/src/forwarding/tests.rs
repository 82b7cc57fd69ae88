use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn strips_hop_by_hop_and_connection_named() {
    let mut h = map(&[
        ("connection", "keep-alive, x-secret"),
        ("x-secret", "1"),
        ("keep-alive", "timeout=5"),
        ("te", "gzip"),
        ("upgrade", "websocket"),
        ("proxy-authorization", "Basic x"),
        ("x-kept", "yes"),
    ]);
    strip_hop_by_hop(&mut h, true, false);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h["x-kept"], "yes");
}

#[test]
fn keeps_te_trailers_and_upgrade_when_asked() {
    let mut h = map(&[
        ("te", "trailers"),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
    ]);
    strip_hop_by_hop(&mut h, true, true);
    assert_eq!(h["te"], "trailers");
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["connection"], "upgrade");
}

#[test]
fn client_ip_ignores_forwarded_for_from_untrusted_peer() {
    let h = map(&[("x-forwarded-for", "1.2.3.4")]);
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    assert_eq!(client_ip(peer, &h, &[]), peer);
}

#[test]
fn client_ip_walks_trusted_chain_from_the_right() {
    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let h = map(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    assert_eq!(
        client_ip(peer, &h, &trusted),
        "1.2.3.4".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn forwarded_headers_replaced_for_untrusted_and_appended_for_trusted() {
    let mut h = map(&[
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
    ]);
    set_forwarded(
        &mut h,
        "9.9.9.9".parse().unwrap(),
        false,
        "http",
        Some(&HeaderValue::from_static("a.test")),
    );
    assert_eq!(h["x-forwarded-for"], "9.9.9.9");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "a.test");

    let mut h = map(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
    ]);
    set_forwarded(&mut h, "10.0.0.1".parse().unwrap(), true, "http", None);
    assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
}

#[test]
fn mapped_ipv6_is_ipv4() {
    let ip: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
    assert_eq!(canonical(ip), "1.2.3.4".parse::<IpAddr>().unwrap());
}

#[test]
fn only_a_plain_websocket_get_is_a_handshake() {
    let ws = map(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
    ]);
    assert!(is_websocket_handshake(&http::Method::GET, &ws));
    assert!(!is_websocket_handshake(&http::Method::POST, &ws));
    for (connection, upgrade) in [
        ("upgrade", "h2c"),
        ("upgrade, http2-settings", "h2c"),
        ("upgrade", "websocket, h2c"),
        ("upgrade", "h2c, websocket"),
        ("upgrade", ""),
        ("keep-alive", "websocket"),
    ] {
        let h = map(&[("connection", connection), ("upgrade", upgrade)]);
        assert!(
            !is_websocket_handshake(&http::Method::GET, &h),
            "{connection} / {upgrade}"
        );
    }
    let twice = map(&[
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("upgrade", "h2c"),
    ]);
    assert!(!is_websocket_handshake(&http::Method::GET, &twice));
}

#[test]
fn http2_settings_is_always_hop_by_hop() {
    let mut h = map(&[
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQAAP__"),
        ("x-kept", "yes"),
    ]);
    strip_hop_by_hop(&mut h, true, false);
    assert_eq!(h.len(), 1, "{h:?}");
}

#[test]
fn transfer_encoding_is_one_chunked_or_nothing() {
    assert_eq!(check_transfer_encoding(&map(&[])), Ok(()));
    assert_eq!(
        check_transfer_encoding(&map(&[("transfer-encoding", " Chunked ")])),
        Ok(())
    );
    for bad in [
        &[("transfer-encoding", "chunked, chunked")][..],
        &[
            ("transfer-encoding", "chunked"),
            ("transfer-encoding", "chunked"),
        ],
        &[("transfer-encoding", "gzip, chunked")],
        &[("transfer-encoding", "chunked,")],
        &[("transfer-encoding", "identity")],
    ] {
        assert!(check_transfer_encoding(&map(bad)).is_err(), "{bad:?}");
    }
}
