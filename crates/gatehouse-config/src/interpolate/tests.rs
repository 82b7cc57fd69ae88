//! `${...}` expansion.

use std::collections::HashMap;
use std::path::Path;

use super::*;

struct Vars(HashMap<&'static str, &'static str>);

impl Env for Vars {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| (*v).to_owned())
    }
}

fn env() -> Vars {
    Vars([("TOKEN", "s3cret"), ("EMPTY", "")].into_iter().collect())
}

fn expand_ok(s: &str) -> String {
    expand(s, Path::new("/nonexistent"), &env()).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

#[test]
fn variables_defaults_and_escapes() {
    assert_eq!(expand_ok("Bearer ${TOKEN}"), "Bearer s3cret");
    assert_eq!(expand_ok("${MISSING:-fallback}"), "fallback");
    assert_eq!(expand_ok("${EMPTY:-fallback}"), "fallback");
    assert_eq!(expand_ok("${TOKEN:-fallback}"), "s3cret");
    assert_eq!(expand_ok("${MISSING:-}"), "");
    assert_eq!(expand_ok("$${TOKEN} costs $5"), "${TOKEN} costs $5");
    assert_eq!(expand_ok("a${TOKEN}b${TOKEN}c"), "as3cretbs3cretc");
}

#[test]
fn missing_variable_is_named_never_valued() {
    let errs = expand("${NOPE} and ${ALSO_NOPE} ${TOKEN}", Path::new("/"), &env())
        .err()
        .unwrap_or_default();
    assert_eq!(errs.len(), 2);
    assert!(errs[0].0.contains("`NOPE`"));
    assert!(errs[1].0.contains("`ALSO_NOPE`"));
    assert!(
        errs.iter()
            .all(|(m, h)| !m.contains("s3cret") && !h.as_deref().unwrap_or("").contains("s3cret"))
    );
}

#[test]
fn malformed_references() {
    assert!(expand("${unterminated", Path::new("/"), &env()).is_err());
    assert!(expand("${not a name}", Path::new("/"), &env()).is_err());
    assert!(expand("${file:}", Path::new("/"), &env()).is_err());
}

#[test]
fn file_references_are_relative_to_the_config_dir() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("token"), "from-file\n").unwrap_or_else(|e| panic!("{e}"));
    let got = expand("${file:token}", dir.path(), &env()).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(got, "from-file");
    let abs = format!("${{file:{}}}", dir.path().join("token").display());
    assert_eq!(
        expand(&abs, Path::new("/elsewhere"), &env()),
        Ok("from-file".to_owned())
    );
    let errs = expand("${file:missing}", dir.path(), &env())
        .err()
        .unwrap_or_default();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].0.contains("missing") && errs[0].0.contains("no such file"),
        "{:?}",
        errs[0]
    );
}

#[test]
fn only_values_are_interpolated_and_failures_are_located() {
    let mut root =
        crate::file::parse("\"${TOKEN}\": x\nlist:\n  - ok: ${TOKEN}\n  - bad: \"${NOPE}\"\n")
            .unwrap_or_else(|e| panic!("{e:?}"));
    let errs = interpolate_tree(&mut root, Path::new("/"), &env());
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].line, errs[0].column, errs[0].path.as_str()),
        (4, 10, "list[1].bad")
    );
    let Kind::Map(entries) = &root.kind else {
        panic!("map expected");
    };
    assert_eq!(entries[0].0.text().as_deref(), Some("${TOKEN}"));
}
