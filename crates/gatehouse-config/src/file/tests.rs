//! Parsing into located nodes.

use super::*;

#[test]
fn scalars_keep_their_spelling_and_location() {
    let node = parse("a: 1.20\nb: [true, 0x1F]\nc: yes\n").unwrap_or_else(|e| panic!("{e:?}"));
    let Kind::Map(entries) = &node.kind else {
        panic!("map expected");
    };
    let (a, v) = &entries[0];
    assert_eq!((a.line, a.column), (1, 1));
    assert_eq!(v.text().as_deref(), Some("1.20"));
    assert_eq!((v.line, v.column), (1, 4));
    let Kind::Seq(items) = &entries[1].1.kind else {
        panic!("list expected");
    };
    assert_eq!(items[0].kind, Kind::Bool(true));
    assert_eq!(items[1].kind, Kind::Int(31));
    assert_eq!(items[1].text().as_deref(), Some("0x1F"));
    assert_eq!((items[1].line, items[1].column), (2, 11));
    // YAML 1.1 booleans stay strings.
    assert_eq!(entries[2].1.kind, Kind::Str("yes".into()));
}

#[test]
fn duplicate_keys_are_kept_for_validation() {
    let node = parse("a: 1\na: 2\n").unwrap_or_else(|e| panic!("{e:?}"));
    assert!(matches!(&node.kind, Kind::Map(e) if e.len() == 2));
}

#[test]
fn empty_document_is_null() {
    assert_eq!(parse("").map(|n| n.kind), Ok(Kind::Null));
    assert_eq!(parse("# only a comment\n").map(|n| n.kind), Ok(Kind::Null));
}

#[test]
fn syntax_errors_have_a_location_and_no_duplicate_location_text() {
    let err = parse("a: [1,\n")
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!((err.line, err.column), (1, 4));
    assert!(!err.message.contains("line 1"), "{}", err.message);
    let err = parse("a: b\n  c: d\n")
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!((err.line, err.column), (2, 4));
}

#[test]
fn aliases_resolve() {
    let node = parse("x: &n 5\ny: *n\n").unwrap_or_else(|e| panic!("{e:?}"));
    let Kind::Map(entries) = &node.kind else {
        panic!("map expected");
    };
    assert_eq!(entries[1].1.text().as_deref(), Some("5"));
}
