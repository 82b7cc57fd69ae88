use std::borrow::Cow;

use proptest::prelude::*;

use super::normalize_path;
use crate::PathError;

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
        ("/%2541", "/%2541"),
        ("/café", "/café"),
        ("/a/..%2e", "/a/..."),
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
        "/a/.../b",
        "/.well-known/x",
    ] {
        assert!(
            matches!(normalize_path(raw), Ok(Cow::Borrowed(p)) if p == raw),
            "{raw:?} should be borrowed unchanged"
        );
    }
    assert!(matches!(normalize_path("/a//b"), Ok(Cow::Owned(_))));
}

#[test]
fn errors_do_not_echo_input() {
    let message = normalize_path("/secret%2Fvalue").unwrap_err().to_string();
    assert!(!message.contains("secret"), "{message}");
}

/// Paths built from the characters that matter to normalization.
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
        "[a-z~{}é]{1,3}",
        "%[0-9a-fA-Fg]{0,2}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn check_fixed_point(raw: &str) {
    if let Ok(once) = normalize_path(raw) {
        let twice = normalize_path(&once);
        assert_eq!(
            twice.as_deref(),
            Ok(&*once),
            "not a fixed point for {raw:?}"
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
    }
}

proptest! {
    #[test]
    fn fixed_point_on_interesting_paths(tail in interesting_path()) {
        check_fixed_point(&format!("/{tail}"));
    }

    #[test]
    fn never_panics_on_any_string(raw in any::<String>()) {
        let _ = normalize_path(&raw);
        check_fixed_point(&raw);
    }
}
