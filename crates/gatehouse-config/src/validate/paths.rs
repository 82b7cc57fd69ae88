//! `server.paths`: `{ matrix_params, trailing_dots, whitespace, double_encoding, overlong_utf8 }`.

use super::Ctx;
use super::listener::set;
use super::scalar::choice;
use super::walk::Obj;
use crate::file::Node;
use crate::model::{MatrixParams, PathPolicy, PathRule};

const KEYS: &[&str] = &[
    "matrix_params",
    "trailing_dots",
    "whitespace",
    "double_encoding",
    "overlong_utf8",
];

/// `server.paths`; keys left out keep their (refusing) default.
pub(crate) fn paths(cx: &mut Ctx, node: &Node, path: &str) -> Option<PathPolicy> {
    let obj = Obj::new(cx, node, path, KEYS)?;
    let mut policy = PathPolicy::default();
    let mut ok = true;
    if let Some(n) = obj.get("matrix_params") {
        let options = [
            ("refuse", MatrixParams::Refuse),
            ("strip", MatrixParams::Strip),
            ("allow", MatrixParams::Allow),
        ];
        let value = choice(cx, n, &obj.at("matrix_params"), &options);
        ok &= set(&mut policy.matrix_params, value);
    }
    let rules: [(&str, &mut PathRule); 4] = [
        ("trailing_dots", &mut policy.trailing_dots),
        ("whitespace", &mut policy.whitespace),
        ("double_encoding", &mut policy.double_encoding),
        ("overlong_utf8", &mut policy.overlong_utf8),
    ];
    for (key, slot) in rules {
        if let Some(n) = obj.get(key) {
            let options = [("refuse", PathRule::Refuse), ("allow", PathRule::Allow)];
            ok &= set(slot, choice(cx, n, &obj.at(key), &options));
        }
    }
    ok.then_some(policy)
}
