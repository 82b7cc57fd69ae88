use std::borrow::Cow;

use proptest::prelude::*;

use gatehouse_config::model::{MatrixParams, PathPolicy, PathRule};

use super::{normalize_path, normalize_path_with};
use crate::PathError;

mod policy;

#[test]
fn normalization_table() {
    let cases: &[(&str, &str)] = &[
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/../admin", "/admin"),
        ("/%2e%2e/admin", "/admin"),
        ("/%2E%2e/admin", "/admin"),
        ("/a/%2e%2E/admin", "/admin"),
        ("/.%2e/admin", "/admin"),
        ("/..", "/"),
        ("/../..", "/"),
        ("/../admin", "/admin"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/a/./b", "/a/b"),
        ("/./", "/"),
        ("//admin", "/admin"),
        ("///a//b///", "/a/b/"),
        ("/a/", "/a/"),
        ("/%41", "/A"),
        ("/%7e", "/~"),
        ("/%7Euser", "/~user"),
        ("/%2d%2E%5f", "/-._"),
        ("/%3a", "/%3A"),
        ("/a%3Ab", "/a%3Ab"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/%25", "/%25"),
        ("/café", "/café"),
        ("/{id}/x", "/{id}/x"),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize_path(raw).as_deref(), Ok(*want), "input {raw:?}");
    }
}

#[test]
fn refused_paths() {
    let cases: &[(&str, PathError)] = &[
        ("", PathError::NotAbsolute),
        ("a/b", PathError::NotAbsolute),
        ("*", PathError::NotAbsolute),
        ("/a%2Fb", PathError::EncodedSlash),
        ("/a%2fb", PathError::EncodedSlash),
        ("/a%5Cb", PathError::EncodedBackslash),
        ("/a%5cb", PathError::EncodedBackslash),
        ("/a%00", PathError::EncodedNul),
        ("/a\\b", PathError::Backslash),
        ("/..\\admin", PathError::Backslash),
        ("/a\0b", PathError::ControlChar),
        ("/a\nb", PathError::ControlChar),
        ("/a\x7f", PathError::ControlChar),
        ("/%zz", PathError::InvalidEscape),
        ("/%", PathError::InvalidEscape),
        ("/%4", PathError::InvalidEscape),
        ("/a%4/b", PathError::InvalidEscape),
        ("/%g1", PathError::InvalidEscape),
    ];
    for (raw, want) in cases {
        assert_eq!(normalize_path(raw), Err(*want), "input {raw:?}");
    }
}

#[test]
fn clean_paths_are_borrowed() {
    for raw in [
        "/",
        "/a",
        "/api/v1/users/42",
        "/a/",
        "/a%3Ab",
        "/.well-known/x",
        "/a.b/c",
        "/my%20file",
    ] {
        assert!(
            matches!(normalize_path(raw), Ok(Cow::Borrowed(p)) if p == raw),
            "{raw:?} should be borrowed unchanged"
        );
    }
    assert!(matches!(normalize_path("/a//b"), Ok(Cow::Owned(_))));
}

#[test]
fn reason_is_the_display_text() {
    let all = [
        PathError::NotAbsolute,
        PathError::EncodedSlash,
        PathError::EncodedBackslash,
        PathError::EncodedNul,
        PathError::InvalidEscape,
        PathError::Backslash,
        PathError::ControlChar,
        PathError::MatrixParams,
        PathError::TrailingDot,
        PathError::Whitespace,
        PathError::DoubleEncoding,
        PathError::OverlongUtf8,
    ];
    for e in all {
        assert_eq!(e.reason(), e.to_string());
    }
}

#[test]
fn errors_do_not_echo_input() {
    let message = normalize_path("/secret%2Fvalue").unwrap_err().to_string();
    assert!(!message.contains("secret"), "{message}");
}

/// Paths built from the characters that matter to normalization and to the path policy.
fn interesting_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just("%".to_owned()),
        Just("%41".to_owned()),
        Just("%3a".to_owned()),
        Just("%2f".to_owned()),
        Just("\\".to_owned()),
        Just(";".to_owned()),
        Just("%3b".to_owned()),
        Just("%20".to_owned()),
        Just("%25".to_owned()),
        Just("%c0".to_owned()),
        Just("%ae".to_owned()),
        Just("%C2%A0".to_owned()),
        "[a-zA-Z~{}=é]{1,3}",
        "%[0-9a-fA-Fgu]{0,2}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// The policies properties are checked under.
const POLICIES: [PathPolicy; 4] = [
    PathPolicy::STRICT,
    PathPolicy::LENIENT,
    PathPolicy {
        matrix_params: MatrixParams::Strip,
        ..PathPolicy::STRICT
    },
    PathPolicy {
        matrix_params: MatrixParams::Strip,
        ..PathPolicy::LENIENT
    },
];

pub(super) fn check_fixed_point(raw: &str, policy: &PathPolicy) {
    if let Ok(once) = normalize_path_with(raw, policy) {
        let twice = normalize_path_with(&once, policy);
        assert_eq!(
            twice.as_deref(),
            Ok(&*once),
            "not a fixed point for {raw:?} under {policy:?}"
        );
        assert!(matches!(twice, Ok(Cow::Borrowed(_))));
        assert!(once.starts_with('/'));
        for bad in ["//", "/./", "/../"] {
            assert!(!once.contains(bad), "{once:?} from {raw:?} contains {bad}");
        }
        assert!(
            !once.ends_with("/.") && !once.ends_with("/.."),
            "{once:?} from {raw:?}"
        );
        if policy.matrix_params != MatrixParams::Allow {
            assert!(
                !once.contains(';'),
                "{once:?} from {raw:?} under {policy:?}"
            );
        }
        if policy.double_encoding == PathRule::Refuse {
            assert!(!once.contains("%252E"), "{once:?} from {raw:?}");
        }
    }
}

proptest! {
    #[test]
    fn fixed_point_on_interesting_paths(tail in interesting_path(), which in 0..POLICIES.len()) {
        check_fixed_point(&format!("/{tail}"), &POLICIES[which]);
    }

    #[test]
    fn never_panics_on_any_string(raw in any::<String>(), which in 0..POLICIES.len()) {
        let _ = normalize_path_with(&raw, &POLICIES[which]);
        check_fixed_point(&raw, &POLICIES[which]);
    }

    /// Whatever the policy, a path it accepts is accepted by the lenient policy too, and a path the
    /// strict policy accepts is normalized the same way by every policy.
    #[test]
    fn strict_accepts_less(tail in interesting_path()) {
        let raw = format!("/{tail}");
        if let Ok(strict) = normalize_path_with(&raw, &PathPolicy::STRICT) {
            for policy in &POLICIES {
                let other = normalize_path_with(&raw, policy);
                prop_assert_eq!(other.as_deref(), Ok(&*strict));
            }
        }
    }
}
