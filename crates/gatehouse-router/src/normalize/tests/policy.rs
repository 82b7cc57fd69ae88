//! The path policy (`server.paths`): spellings that back-ends read as another path.

use std::borrow::Cow;

use gatehouse_config::model::{MatrixParams, PathPolicy, PathRule};

use super::{POLICIES, check_fixed_point, normalize_path, normalize_path_with};
use crate::PathError;

const STRIP: PathPolicy = PathPolicy {
    matrix_params: MatrixParams::Strip,
    ..PathPolicy::STRICT
};

#[track_caller]
fn refused_by_default(raw: &str, want: PathError) {
    assert_eq!(normalize_path(raw), Err(want), "input {raw:?}");
    assert_eq!(
        normalize_path_with(raw, &PathPolicy::STRICT),
        Err(want),
        "input {raw:?}"
    );
}

/// The paths of the security review: none may normalize to a path under `/admin`.
#[test]
fn review_paths_never_become_admin_silently() {
    let cases: &[(&str, PathError)] = &[
        ("/admin.", PathError::TrailingDot),
        ("/admin;x", PathError::MatrixParams),
        ("/admin;", PathError::MatrixParams),
        ("/admin%20", PathError::Whitespace),
        ("/%252e%252e/admin", PathError::DoubleEncoding),
    ];
    for (raw, want) in cases {
        refused_by_default(raw, *want);
    }
    // Case is kept: `/ADMIN` is not `/admin` unless a route opts in (table tests).
    assert_eq!(normalize_path("/ADMIN").as_deref(), Ok("/ADMIN"));
}

#[test]
fn matrix_params_are_refused_by_default() {
    for raw in [
        "/a;b",
        "/;",
        "/a/..;/admin",
        "/admin;jsessionid=1/x",
        "/a%2f;x",
        "/a;%2f",
        "/admin%3Bx",
        "/admin%3bx",
    ] {
        refused_by_default(raw, PathError::MatrixParams);
    }
    // `%2F` before the `;` is still its own refusal when the escape comes first.
    assert_eq!(normalize_path("/a%2Fb"), Err(PathError::EncodedSlash));
}

#[test]
fn strip_mode_removes_params_from_every_segment() {
    let cases: &[(&str, &str)] = &[
        ("/a;x/b;y=1", "/a/b"),
        ("/admin/x;jsessionid=1", "/admin/x"),
        ("/admin;x", "/admin"),
        ("/admin;", "/admin"),
        ("/;x/admin", "/admin"),
        ("/a/..;/admin", "/admin"),
        ("/a/%2e%2e;x/admin", "/admin"),
        ("/a/.;x/b", "/a/b"),
        ("/a;x/", "/a/"),
        ("/a/b/..;x", "/a/"),
        ("/admin;%2f..", "/admin"),
        ("/admin;x%zz", "/admin"),
        ("/admin;a;b", "/admin"),
        ("/admin/x;y?z", "/admin/x"),
    ];
    for (raw, want) in cases {
        assert_eq!(
            normalize_path_with(raw, &STRIP).as_deref(),
            Ok(*want),
            "input {raw:?}"
        );
        check_fixed_point(raw, &STRIP);
    }
    // An encoded `;` is ambiguous (decoded first by some back-ends): refused in strip mode too.
    assert_eq!(
        normalize_path_with("/admin%3Bx", &STRIP),
        Err(PathError::MatrixParams)
    );
    // Stripping does not hide the other rules.
    assert_eq!(
        normalize_path_with("/admin.;x", &STRIP),
        Err(PathError::TrailingDot)
    );
}

#[test]
fn allow_mode_keeps_params_as_plain_characters() {
    let allow = PathPolicy {
        matrix_params: MatrixParams::Allow,
        ..PathPolicy::STRICT
    };
    assert!(matches!(
        normalize_path_with("/admin;x", &allow),
        Ok(Cow::Borrowed("/admin;x"))
    ));
    assert_eq!(
        normalize_path_with("/a/..;/b", &allow).as_deref(),
        Ok("/a/..;/b")
    );
    assert_eq!(
        normalize_path_with("/a%3bb", &allow).as_deref(),
        Ok("/a%3Bb")
    );
}

#[test]
fn trailing_dots_are_refused_by_default() {
    for raw in [
        "/admin.",
        "/admin./x",
        "/admin../x",
        "/a/...",
        "/a/.../b",
        "/admin%2e",
        "/admin%2E/x",
        "/admin.%2e",
        "/a/..%2e",
        "/admin%20.",
    ] {
        refused_by_default(raw, PathError::TrailingDot);
    }
    // Dot-segments are removed, not refused; dots elsewhere are fine.
    for (raw, want) in [
        ("/a/./b", "/a/b"),
        ("/a/..", "/"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a.b", "/a.b"),
        ("/ad%2emin", "/ad.min"),
        ("/.a", "/.a"),
    ] {
        assert_eq!(normalize_path(raw).as_deref(), Ok(want), "input {raw:?}");
    }
}

#[test]
fn whitespace_at_segment_edges_is_refused_by_default() {
    for raw in [
        "/admin%20",
        "/admin%20/x",
        "/admin%09",
        "/admin%0a",
        "/admin%0D",
        "/admin%0b",
        "/admin%0c",
        "/admin%1f",
        "/admin%7f",
        "/admin%C2%A0",
        "/admin%c2%85",
        "/admin%E3%80%80",
        "/admin%e2%80%8b",
        "/admin%EF%BB%BF",
        "/admin%C2%9F",
        "/%20admin",
        "/%09admin",
        "/%C2%A0admin",
        "/admin.%20",
        "/admin\u{a0}",
        "/\u{3000}admin",
    ] {
        refused_by_default(raw, PathError::Whitespace);
    }
    // Inside a segment it is data.
    for (raw, want) in [
        ("/my%20file", "/my%20file"),
        ("/a%09b", "/a%09b"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/%E2%82%AC", "/%E2%82%AC"),
    ] {
        assert_eq!(normalize_path(raw).as_deref(), Ok(want), "input {raw:?}");
    }
}

#[test]
fn double_encoding_is_refused_by_default() {
    for raw in [
        "/%252e%252e/admin",
        "/%252E%252E/admin",
        "/a%252fb",
        "/a%252Fb",
        "/a%255cb",
        "/a%2525",
        "/a%25252e",
        "/%2561dmin",
        "/a%25u002e",
        "/a%25U002E",
        "/a%25%32%65",
        "/a%25%32e",
    ] {
        refused_by_default(raw, PathError::DoubleEncoding);
    }
    // A plain encoded `%` is fine.
    for (raw, want) in [
        ("/100%25", "/100%25"),
        ("/50%25off", "/50%25off"),
        ("/%25zz", "/%25zz"),
        ("/%25/a", "/%25/a"),
    ] {
        assert_eq!(normalize_path(raw).as_deref(), Ok(want), "input {raw:?}");
    }
}

#[test]
fn overlong_utf8_is_refused_by_default() {
    for raw in [
        "/%c0%ae%c0%ae/admin",
        "/%C0%AF",
        "/a%C1%9Cb",
        "/%e0%80%ae",
        "/%F0%80%80%AE",
    ] {
        refused_by_default(raw, PathError::OverlongUtf8);
    }
    for (raw, want) in [
        ("/%C3%A9", "/%C3%A9"),
        ("/%C0", "/%C0"),
        ("/%E0%A0%80", "/%E0%A0%80"),
    ] {
        assert_eq!(normalize_path(raw).as_deref(), Ok(want), "input {raw:?}");
    }
}

#[test]
fn each_rule_can_be_allowed_on_its_own() {
    let allow = |f: fn(&mut PathPolicy)| {
        let mut p = PathPolicy::STRICT;
        f(&mut p);
        p
    };
    let cases: [(PathPolicy, &str, &str); 4] = [
        (
            allow(|p| p.trailing_dots = PathRule::Allow),
            "/admin.",
            "/admin.",
        ),
        (
            allow(|p| p.whitespace = PathRule::Allow),
            "/admin%20",
            "/admin%20",
        ),
        (
            allow(|p| p.double_encoding = PathRule::Allow),
            "/%252e%252e/admin",
            "/%252e%252e/admin",
        ),
        (
            allow(|p| p.overlong_utf8 = PathRule::Allow),
            "/%c0%ae",
            "/%C0%AE",
        ),
    ];
    for (policy, raw, want) in cases {
        assert_eq!(
            normalize_path_with(raw, &policy).as_deref(),
            Ok(want),
            "input {raw:?}"
        );
        assert!(
            normalize_path(raw).is_err(),
            "{raw:?} is refused by default"
        );
    }
}

/// What the base normalization does when every rule allows (the behaviour before `server.paths`).
#[test]
fn lenient_policy_keeps_the_old_behaviour() {
    for (raw, want) in [
        ("/%2541", "/%2541"),
        ("/a/..%2e", "/a/..."),
        ("/admin.", "/admin."),
        ("/admin;x", "/admin;x"),
        ("/admin%20", "/admin%20"),
        ("/%252e%252e/admin", "/%252e%252e/admin"),
    ] {
        assert_eq!(
            normalize_path_with(raw, &PathPolicy::LENIENT).as_deref(),
            Ok(want),
            "input {raw:?}"
        );
    }
    assert!(matches!(
        normalize_path_with("/a/.../b", &PathPolicy::LENIENT),
        Ok(Cow::Borrowed(_))
    ));
}

/// Already-normalized paths stay borrowed (no allocation) under every policy.
#[test]
fn clean_paths_stay_borrowed_under_every_policy() {
    for policy in &POLICIES {
        for raw in ["/", "/api/v1/users/42", "/a/", "/.well-known/x", "/a%3Ab"] {
            assert!(
                matches!(normalize_path_with(raw, policy), Ok(Cow::Borrowed(p)) if p == raw),
                "{raw:?} under {policy:?}"
            );
        }
    }
}

#[test]
fn policy_errors_do_not_echo_input() {
    for raw in [
        "/secret;x",
        "/secret.",
        "/secret%20",
        "/secret%252e",
        "/secret%c0%ae",
    ] {
        let message = normalize_path(raw).unwrap_err().to_string();
        assert!(!message.contains("secret"), "{message}");
    }
}
