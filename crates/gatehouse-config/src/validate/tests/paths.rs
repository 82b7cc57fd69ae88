//! `server.paths` and `match.path.case_insensitive`.

use super::{BASE, errors, ok, one_error};
use crate::model::{MatrixParams, PathMatch, PathPolicy, PathRule};

/// `BASE` has 6 lines; text appended to it starts on line 7.
fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

#[test]
fn path_policy_defaults_are_strict() {
    let c = ok(BASE);
    assert_eq!(c.server.paths, PathPolicy::STRICT);
    assert_eq!(PathPolicy::default(), PathPolicy::STRICT);
    let c = ok(&with_base("server: { paths: {} }\n"));
    assert_eq!(c.server.paths, PathPolicy::STRICT);
}

#[test]
fn every_path_rule_can_be_set() {
    let c = ok(&with_base(
        "server:\n  paths:\n    matrix_params: strip\n    trailing_dots: allow\n    whitespace: allow\n    double_encoding: allow\n    overlong_utf8: allow\n",
    ));
    assert_eq!(
        c.server.paths,
        PathPolicy {
            matrix_params: MatrixParams::Strip,
            ..PathPolicy::LENIENT
        }
    );
    let c = ok(&with_base("server: { paths: { matrix_params: allow } }\n"));
    assert_eq!(c.server.paths.matrix_params, MatrixParams::Allow);
    assert_eq!(c.server.paths.trailing_dots, PathRule::Refuse);
}

#[test]
fn unknown_path_keys_and_values_are_located() {
    let d = one_error(
        &with_base("server:\n  paths:\n    trailing_dot: allow\n"),
        9,
        5,
        "server.paths.trailing_dot",
    );
    assert_eq!(d.message, "unknown key `trailing_dot`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `trailing_dots`?"));
    let d = one_error(
        &with_base("server:\n  paths:\n    matrix_params: strp\n"),
        9,
        20,
        "server.paths.matrix_params",
    );
    assert_eq!(d.message, "unknown value `strp`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `strip`?"));
    let d = one_error(
        &with_base("server:\n  paths:\n    whitespace: strip\n"),
        9,
        17,
        "server.paths.whitespace",
    );
    assert_eq!(d.message, "unknown value `strip`");
    let d = one_error(
        &with_base("server:\n  paths:\n    double_encoding: true\n"),
        9,
        22,
        "server.paths.double_encoding",
    );
    assert!(d.message.contains("true"), "{d}");
    let d = one_error(
        &with_base("server:\n  paths: refuse\n"),
        8,
        10,
        "server.paths",
    );
    assert!(d.message.starts_with("expected a map"), "{d}");
    // Several mistakes are all reported.
    let diags = errors(&with_base(
        "server:\n  paths:\n    overlong_utf8: no\n    trailing_dots: maybe\n",
    ));
    assert_eq!(diags.len(), 2, "{diags:#?}");
}

#[test]
fn case_insensitive_paths() {
    let c = ok(&with_base(
        "routes:\n  - name: a\n    match: { path: { prefix: /Admin, case_insensitive: true } }\n    upstream: users\n  - name: b\n    match: { path: { exact: /x } }\n    upstream: users\n  - name: c\n    match: { path: /y }\n    upstream: users\n  - name: d\n    match: { path: { regex: /z, case_insensitive: false } }\n    upstream: users\n",
    ));
    let a = &c.routes[0].matcher;
    assert!(a.path_case_insensitive);
    assert!(matches!(&a.path, Some(PathMatch::Prefix(p)) if p == "/Admin"));
    assert!(!c.routes[1].matcher.path_case_insensitive);
    assert!(!c.routes[2].matcher.path_case_insensitive);
    assert!(!c.routes[3].matcher.path_case_insensitive);
}

#[test]
fn case_insensitive_is_validated() {
    let d = one_error(
        &with_base(
            "routes:\n  - name: a\n    match:\n      path: { prefix: /a, case_insensitive: yes please }\n    upstream: users\n",
        ),
        10,
        45,
        "routes[0].match.path.case_insensitive",
    );
    assert!(d.message.starts_with("expected `true` or `false`"), "{d}");
    let d = one_error(
        &with_base(
            "routes:\n  - name: a\n    match:\n      path: { prefix: /a, case_insensitve: true }\n    upstream: users\n",
        ),
        10,
        27,
        "routes[0].match.path.case_insensitve",
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `case_insensitive`?"));
    // Alone it is not a path condition.
    let d = one_error(
        &with_base(
            "routes:\n  - name: a\n    match:\n      path: { case_insensitive: true }\n    upstream: users\n",
        ),
        10,
        13,
        "routes[0].match.path",
    );
    assert!(d.message.contains("exactly one of"), "{d}");
}
