use http::{Request, Version};

use super::*;

fn parts(version: Version, uri: &str, hosts: &[&[u8]]) -> Parts {
    let mut b = Request::builder().version(version).uri(uri);
    for h in hosts {
        b = b.header(header::HOST, HeaderValue::from_bytes(h).unwrap());
    }
    b.body(()).unwrap().into_parts().0
}

fn authority(version: Version, uri: &str, hosts: &[&[u8]]) -> Result<Option<String>, Refusal> {
    request_authority(&parts(version, uri, hosts))
        .map(|v| v.map(|v| v.to_str().unwrap().to_owned()))
}

#[test]
fn http11_needs_exactly_one_valid_host() {
    let v = Version::HTTP_11;
    assert_eq!(authority(v, "/x", &[b"a.test"]), Ok(Some("a.test".into())));
    assert_eq!(authority(v, "/x", &[]), Err("missing Host header"));
    assert_eq!(
        authority(v, "/x", &[b"a.test", b"a.test"]),
        Err("more than one Host header")
    );
    assert_eq!(
        authority(v, "/x", &[b"a.test", b"b.test"]),
        Err("more than one Host header")
    );
    for bad in [
        &b"a%2eb"[..],
        b"a, b",
        b"a b",
        b"a\tb",
        b"user@a.test",
        b"a.test:",
        b"a.test:99999",
        b"a.test:80:80",
        b"a.test:8x",
        b"",
        b"[::1",
        b"[::1]x",
        b"[zz]",
        b"a/b",
        b"a\\b",
        b"a;b",
        b"\xc3\xa9.test",
    ] {
        assert_eq!(
            authority(v, "/x", &[bad]),
            Err("invalid Host header"),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    for good in [
        "a.test:8080",
        "A.Test",
        "[::1]:443",
        "[::1]",
        "127.0.0.1:1",
        "x_y.test",
    ] {
        assert_eq!(
            authority(v, "/x", &[good.as_bytes()]),
            Ok(Some(good.into()))
        );
    }
}

#[test]
fn absolute_form_must_agree_with_host() {
    let v = Version::HTTP_11;
    assert_eq!(
        authority(v, "http://a.test/x", &[b"A.TEST"]),
        Ok(Some("A.TEST".into()))
    );
    assert_eq!(
        authority(v, "http://a.test/x", &[b"b.test"]),
        Err("Host header disagrees with the request target")
    );
    assert_eq!(
        authority(v, "http://a.test/x", &[]),
        Err("missing Host header")
    );
    assert_eq!(
        authority(v, "http://user@a.test/x", &[b"a.test"]),
        Err("invalid request authority")
    );
}

#[test]
fn http2_uses_authority_and_refuses_a_disagreeing_host() {
    let v = Version::HTTP_2;
    assert_eq!(
        authority(v, "https://a.test/x", &[]),
        Ok(Some("a.test".into()))
    );
    assert_eq!(
        authority(v, "https://a.test/x", &[b"a.test"]),
        Ok(Some("a.test".into()))
    );
    assert_eq!(
        authority(v, "https://a.test/x", &[b"b.test"]),
        Err("Host header disagrees with :authority")
    );
    assert_eq!(
        authority(v, "https://a.test/x", &[b"a.test:443"]),
        Err("Host header disagrees with :authority")
    );
    // No :authority: the host header stands in for it; neither: refused.
    assert_eq!(authority(v, "/x", &[b"a.test"]), Ok(Some("a.test".into())));
    assert_eq!(authority(v, "/x", &[]), Err("missing :authority"));
}

#[test]
fn http10_may_omit_host() {
    assert_eq!(authority(Version::HTTP_10, "/x", &[]), Ok(None));
    assert_eq!(
        authority(Version::HTTP_10, "/x", &[b"a.test"]),
        Ok(Some("a.test".into()))
    );
    assert_eq!(
        authority(Version::HTTP_10, "/x", &[b"a", b"a"]),
        Err("more than one Host header")
    );
}
