//! Precedence: host, path class, conditions, priority, declaration order.

use http::Method;

use super::{build, exact, get, prefix, regex, route, template, with_hosts};

#[test]
fn path_class_order_exact_template_prefix_regex() {
    let routes = [
        route("regex", regex("^/users/.*$")),
        route("prefix", prefix("/users")),
        route("template", template("/users/{id}")),
        route("exact", exact("/users/me")),
    ];
    // Each class wins over the classes after it, whatever the declaration order.
    for drop in 0..4 {
        let table = build(&routes[..routes.len() - drop]);
        assert_eq!(
            get("/users/me").on(&table),
            Some(3 - drop),
            "with {} routes",
            4 - drop
        );
    }
    let reversed: Vec<_> = routes.iter().rev().cloned().collect();
    assert_eq!(get("/users/me").on(&build(&reversed)), Some(0));
}

#[test]
fn path_class_beats_more_conditions_and_priority() {
    let mut prefixed = route("prefix", prefix("/a"));
    prefixed.matcher.methods = vec![Method::GET];
    prefixed.priority = 100;
    let table = build(&[prefixed, route("exact", exact("/a/b"))]);
    assert_eq!(get("/a/b").on(&table), Some(1));
}

#[test]
fn templates_with_more_literal_segments_first() {
    let routes = [
        route("one-literal", template("/x/{b}/{c}")),
        route("two-literals", template("/{a}/b/c")),
    ];
    assert_eq!(get("/x/b/c").on(&build(&routes)), Some(1));
    let reversed = [routes[1].clone(), routes[0].clone()];
    assert_eq!(get("/x/b/c").on(&build(&reversed)), Some(0));
    assert_eq!(get("/x/q/c").on(&build(&routes)), Some(0));
}

#[test]
fn parameter_beats_catch_all() {
    let table = build(&[
        route("rest", template("/files/{*rest}")),
        route("name", template("/files/{name}")),
    ]);
    assert_eq!(get("/files/a").on(&table), Some(1));
    assert_eq!(get("/files/a/b").on(&table), Some(0));
}

#[test]
fn longest_prefix_first() {
    let table = build(&[
        route("root", prefix("/")),
        route("api", prefix("/api")),
        route("v1", prefix("/api/v1")),
    ]);
    assert_eq!(get("/api/v1/x").on(&table), Some(2));
    assert_eq!(get("/api/v1").on(&table), Some(2));
    assert_eq!(get("/api/v2").on(&table), Some(1));
    assert_eq!(get("/api").on(&table), Some(1));
    assert_eq!(get("/other").on(&table), Some(0));
}

#[test]
fn more_conditions_first_then_priority_then_declaration() {
    let plain = route("plain", prefix("/a"));
    let mut with_method = route("method", prefix("/a"));
    with_method.matcher.methods = vec![Method::GET, Method::POST];
    let mut with_two = with_method.clone();
    with_two.name = "two".into();
    with_two.matcher.headers = vec![super::conditions::header_exact("x-v", "1")];
    let table = build(&[plain.clone(), with_method.clone(), with_two.clone()]);
    assert_eq!(get("/a").header("x-v", "1").on(&table), Some(2));
    assert_eq!(get("/a").on(&table), Some(1));
    assert_eq!(get("/a").method(Method::PUT).on(&table), Some(0));

    let mut high = plain.clone();
    high.priority = 5;
    let table = build(&[plain.clone(), high, with_method]);
    assert_eq!(get("/a").on(&table), Some(2), "conditions before priority");
    assert_eq!(
        get("/a").method(Method::PUT).on(&table),
        Some(1),
        "priority"
    );

    let table = build(&[plain.clone(), plain]);
    assert_eq!(get("/a").on(&table), Some(0), "declaration order");
}

#[test]
fn priority_breaks_ties_between_templates() {
    let mut low = route("low", template("/{a}/x"));
    low.priority = -1;
    let table = build(&[low, route("default", template("/x/{b}"))]);
    assert_eq!(get("/x/x").on(&table), Some(1));
}

#[test]
fn failing_conditions_fall_back_to_the_next_candidate() {
    let mut post_exact = route("post", exact("/users/me"));
    post_exact.matcher.methods = vec![Method::POST];
    let mut deep_template = route("deep", template("/users/{id}"));
    deep_template.matcher.methods = vec![Method::DELETE];
    let table = build(&[
        post_exact,
        deep_template,
        route("shallow", template("/{kind}/{id}")),
        route("prefix", prefix("/users")),
    ]);
    assert_eq!(get("/users/me").method(Method::POST).on(&table), Some(0));
    assert_eq!(get("/users/me").method(Method::DELETE).on(&table), Some(1));
    assert_eq!(get("/users/me").on(&table), Some(2));
    assert_eq!(get("/users/me/x").on(&table), Some(3));
}

#[test]
fn host_exact_then_longest_wildcard_then_any() {
    let table = build(&[
        route("any", prefix("/")),
        with_hosts(route("wide", prefix("/")), &["*.example.com"]),
        with_hosts(route("narrow", prefix("/")), &["*.api.example.com"]),
        with_hosts(route("exact", prefix("/")), &["a.api.example.com"]),
    ]);
    assert_eq!(get("/").host("a.api.example.com").on(&table), Some(3));
    assert_eq!(get("/").host("A.API.example.com:443").on(&table), Some(3));
    assert_eq!(get("/").host("b.api.example.com").on(&table), Some(2));
    assert_eq!(get("/").host("x.y.api.example.com").on(&table), Some(2));
    assert_eq!(get("/").host("api.example.com").on(&table), Some(1));
    assert_eq!(get("/").host("a.b.example.com").on(&table), Some(1));
    assert_eq!(get("/").host("example.com").on(&table), Some(0));
    assert_eq!(get("/").host("other.org").on(&table), Some(0));
    assert_eq!(get("/").on(&table), Some(0));
}

#[test]
fn host_beats_path_specificity() {
    let table = build(&[
        route("exact-path", exact("/a")),
        with_hosts(route("host", prefix("/")), &["h.com"]),
    ]);
    assert_eq!(get("/a").host("h.com").on(&table), Some(1));
    assert_eq!(get("/a").host("g.com").on(&table), Some(0));
}

#[test]
fn host_routes_fall_through_when_nothing_matches() {
    let table = build(&[
        with_hosts(route("h", exact("/only")), &["h.com", "*.h.com"]),
        route("any", prefix("/")),
    ]);
    assert_eq!(get("/only").host("h.com").on(&table), Some(0));
    assert_eq!(get("/only").host("x.h.com").on(&table), Some(0));
    assert_eq!(get("/else").host("h.com").on(&table), Some(1));
    assert_eq!(
        get("/only").on(&table),
        Some(1),
        "no host: host routes never match"
    );
}

#[test]
fn wildcard_needs_at_least_one_label() {
    let table = build(&[with_hosts(route("w", None), &["*.example.com"])]);
    assert_eq!(get("/").host("a.example.com").on(&table), Some(0));
    assert_eq!(get("/").host("a.b.example.com").on(&table), Some(0));
    assert_eq!(get("/").host("example.com").on(&table), None);
    assert_eq!(get("/").host(".example.com").on(&table), None);
    assert_eq!(get("/").host("aexample.com").on(&table), None);
}
