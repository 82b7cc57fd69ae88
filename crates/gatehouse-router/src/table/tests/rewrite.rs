//! Path rewrites.

use gatehouse_config::model::Rewrite;
use regex::Regex;

use super::{build, exact, get, prefix, regex, route, template};

fn rewritten(
    mut r: gatehouse_config::model::Route,
    rewrite: Rewrite,
    path: &str,
) -> (String, bool) {
    r.rewrite = Some(rewrite);
    let hit = get(path).hit(&build(&[r])).unwrap();
    (hit.upstream_path, hit.borrowed)
}

fn replace(p: &str) -> Rewrite {
    Rewrite::ReplacePrefix(p.to_owned())
}

#[test]
fn no_rewrite_borrows_the_normalized_path() {
    let hit = get("/a/b")
        .hit(&build(&[route("r", prefix("/a"))]))
        .unwrap();
    assert_eq!(hit.upstream_path, "/a/b");
    assert!(hit.borrowed);
}

#[test]
fn strip_prefix() {
    let api = || route("api", prefix("/api"));
    assert_eq!(
        rewritten(api(), Rewrite::StripPrefix, "/api/users/1"),
        ("/users/1".into(), true)
    );
    assert_eq!(
        rewritten(api(), Rewrite::StripPrefix, "/api"),
        ("/".into(), true)
    );
    assert_eq!(rewritten(api(), Rewrite::StripPrefix, "/api/").0, "/");
    let root = route("root", prefix("/"));
    assert_eq!(rewritten(root, Rewrite::StripPrefix, "/x").0, "/x");
    assert_eq!(
        rewritten(route("any", None), Rewrite::StripPrefix, "/x").0,
        "/x"
    );
}

#[test]
fn strip_prefix_on_exact_and_template_routes() {
    assert_eq!(
        rewritten(route("e", exact("/a/b")), Rewrite::StripPrefix, "/a/b").0,
        "/"
    );
    let t = || route("t", template("/api/{version}/users"));
    assert_eq!(
        rewritten(t(), Rewrite::StripPrefix, "/api/v1/users").0,
        "/v1/users"
    );
    let files = route("f", template("/static/{*rest}"));
    assert_eq!(
        rewritten(files, Rewrite::StripPrefix, "/static/a/b.css").0,
        "/a/b.css"
    );
    let leading = route("l", template("/{tenant}/x"));
    assert_eq!(
        rewritten(leading, Rewrite::StripPrefix, "/acme/x").0,
        "/acme/x"
    );
}

#[test]
fn strip_prefix_is_a_no_op_on_regex_routes() {
    let r = route("r", regex("^/v[0-9]/.*$"));
    assert_eq!(
        rewritten(r, Rewrite::StripPrefix, "/v1/x"),
        ("/v1/x".into(), true)
    );
}

#[test]
fn replace_prefix() {
    let api = || route("api", prefix("/api"));
    assert_eq!(
        rewritten(api(), replace("/v2"), "/api/users").0,
        "/v2/users"
    );
    assert_eq!(
        rewritten(api(), replace("/v2/"), "/api/users").0,
        "/v2/users"
    );
    assert_eq!(rewritten(api(), replace("/v2"), "/api").0, "/v2");
    assert_eq!(rewritten(api(), replace("/"), "/api").0, "/");
    assert_eq!(rewritten(api(), replace(""), "/api/x").0, "/x");
    assert_eq!(rewritten(api(), replace("v2"), "/api/x").0, "/v2/x");
    assert_eq!(
        rewritten(route("root", prefix("/")), replace("/up"), "/x").0,
        "/up/x"
    );
    assert_eq!(
        rewritten(route("e", exact("/old")), replace("/new"), "/old").0,
        "/new"
    );
    let t = route("t", template("/api/{v}/users"));
    assert_eq!(
        rewritten(t, replace("/internal"), "/api/v1/users").0,
        "/internal/v1/users"
    );
}

#[test]
fn regex_rewrite_with_captures() {
    let rule = |pattern: &str, replacement: &str| Rewrite::Regex {
        pattern: Regex::new(pattern).unwrap(),
        replacement: replacement.to_owned(),
    };
    let api = || route("api", prefix("/api"));
    let r = rewritten(
        api(),
        rule("^/api/(?P<rest>.*)$", "/v2/${rest}"),
        "/api/users/1",
    );
    assert_eq!(r.0, "/v2/users/1");
    let r = rewritten(
        api(),
        rule("^/api/users/([0-9]+)$", "/people/$1"),
        "/api/users/7",
    );
    assert_eq!(r.0, "/people/7");
    assert_eq!(
        rewritten(api(), rule("^/nomatch$", "/x"), "/api/a"),
        ("/api/a".into(), true)
    );
    assert_eq!(
        rewritten(api(), rule("^/api/", ""), "/api/a").0,
        "/a",
        "kept absolute"
    );
}
