//! Fuzz `normalize_path_with` under every `;` mode and both settings of the other path rules:
//! never panics; its output is absolute, a fixed point under the same policy, and free of `//` and
//! dot-segments (and of `;` unless `;` is allowed); what the strict policy accepts, every policy
//! normalizes the same way.
#![no_main]

use gatehouse_config::model::{MatrixParams, PathPolicy, PathRule};
use libfuzzer_sys::fuzz_target;

/// The policy picked by the first input byte.
fn policy(bits: u8) -> PathPolicy {
    let rule = |bit: u8| match bits & (1 << bit) {
        0 => PathRule::Refuse,
        _ => PathRule::Allow,
    };
    PathPolicy {
        matrix_params: match bits >> 5 {
            0..=2 => MatrixParams::Refuse,
            3..=5 => MatrixParams::Strip,
            _ => MatrixParams::Allow,
        },
        trailing_dots: rule(0),
        whitespace: rule(1),
        double_encoding: rule(2),
        overlong_utf8: rule(3),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&bits, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let policy = policy(bits);
    let strict = gatehouse_router::normalize_path(raw);
    let Ok(once) = gatehouse_router::normalize_path_with(raw, &policy) else {
        assert!(
            strict.is_err(),
            "refused by {policy:?}, accepted by the strict policy"
        );
        return;
    };
    if let Ok(strict) = strict {
        assert_eq!(*strict, *once, "strict and {policy:?} disagree");
    }
    assert!(once.starts_with('/'));
    for bad in ["//", "/./", "/../"] {
        assert!(!once.contains(bad), "{once:?} contains {bad:?}");
    }
    assert!(!once.ends_with("/.") && !once.ends_with("/.."));
    if policy.matrix_params != MatrixParams::Allow {
        assert!(!once.contains(';'), "{once:?} keeps a ';'");
    }
    let twice =
        gatehouse_router::normalize_path_with(&once, &policy).expect("normalized output is valid");
    assert_eq!(*twice, *once, "not a fixed point");
    assert!(matches!(twice, std::borrow::Cow::Borrowed(_)));
});
