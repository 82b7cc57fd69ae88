//! Case-insensitive paths (`match.path.case_insensitive`).

use gatehouse_config::model::{PathMatch, Rewrite, Route};

use super::{Hit, build, exact, get, prefix, regex, route, template, with_hosts};

/// `route(name, path)` comparing its path ignoring ASCII case.
fn folded(name: &str, path: Option<PathMatch>) -> Route {
    let mut r = route(name, path);
    r.matcher.path_case_insensitive = true;
    r
}

#[test]
fn paths_are_case_sensitive_by_default() {
    let table = build(&[route("admin", prefix("/admin")), route("all", prefix("/"))]);
    assert_eq!(get("/admin/x").on(&table), Some(0));
    assert_eq!(get("/ADMIN").on(&table), Some(1));
    assert_eq!(get("/Admin/x").on(&table), Some(1));
}

#[test]
fn a_case_insensitive_prefix_beats_the_catch_all_in_any_case() {
    let table = build(&[folded("admin", prefix("/Admin")), route("all", prefix("/"))]);
    for path in ["/admin", "/ADMIN", "/AdMiN/x", "/admin/Users/", "/ADMIN/"] {
        assert_eq!(get(path).on(&table), Some(0), "{path}");
    }
    for path in ["/adminx", "/ADMINX/y", "/x/admin", "/"] {
        assert_eq!(get(path).on(&table), Some(1), "{path}");
    }
}

#[test]
fn the_forwarded_path_keeps_the_clients_case() {
    let table = build(&[folded("admin", prefix("/admin"))]);
    let hit = get("/ADMIN/Users").hit(&table).unwrap();
    assert_eq!(hit.upstream_path, "/ADMIN/Users");
    assert!(hit.borrowed);
    let mut strip = folded("admin", prefix("/admin"));
    strip.rewrite = Some(Rewrite::StripPrefix);
    let hit = get("/ADMIN/Users").hit(&build(&[strip])).unwrap();
    assert_eq!(hit.upstream_path, "/Users");
}

#[test]
fn exact_template_and_regex_fold_case() {
    let table = build(&[
        folded("health", exact("/Health")),
        folded("user", template("/users/{id}/{*rest}")),
        folded("re", regex("^/v[0-9]+/items$")),
    ]);
    assert_eq!(get("/HEALTH").on(&table), Some(0));
    assert_eq!(get("/health/").on(&table), None);
    let hit = get("/USERS/AbC/Def/G").hit(&table).unwrap();
    assert_eq!(
        hit,
        Hit {
            index: 1,
            params: vec![("id".into(), "AbC".into()), ("rest".into(), "Def/G".into())],
            upstream_path: "/USERS/AbC/Def/G".into(),
            borrowed: true,
        }
    );
    assert_eq!(get("/V2/ITEMS").on(&table), Some(2));
}

#[test]
fn folded_and_exact_case_routes_keep_precedence() {
    // Longest prefix wins whichever route folds case.
    let table = build(&[
        folded("admin", prefix("/admin")),
        route("users", prefix("/admin/users")),
    ]);
    assert_eq!(get("/admin/users/1").on(&table), Some(1));
    assert_eq!(get("/ADMIN/users/1").on(&table), Some(0));
    assert_eq!(get("/admin/USERS/1").on(&table), Some(0));
    // An exact path beats a folded prefix; a folded exact beats a prefix.
    let table = build(&[
        folded("admin", prefix("/admin")),
        route("login", exact("/admin/login")),
        folded("logout", exact("/admin/logout")),
        route("all", prefix("/admin/logout")),
    ]);
    assert_eq!(get("/admin/login").on(&table), Some(1));
    assert_eq!(get("/ADMIN/LOGIN").on(&table), Some(0));
    assert_eq!(get("/Admin/Logout").on(&table), Some(2));
    // Same path and class: declaration order, as for routes of the same case.
    let table = build(&[route("a", prefix("/a")), folded("b", prefix("/a"))]);
    assert_eq!(get("/a").on(&table), Some(0));
    assert_eq!(get("/A").on(&table), Some(1));
    // Templates: more literal segments first.
    let table = build(&[
        folded("any", template("/u/{id}")),
        route("me", template("/u/me")),
    ]);
    assert_eq!(get("/u/me").on(&table), Some(1));
    assert_eq!(get("/U/ME").on(&table), Some(0));
}

#[test]
fn folding_is_per_host_key() {
    let table = build(&[
        with_hosts(folded("admin", prefix("/admin")), &["api.example.com"]),
        route("all", prefix("/")),
    ]);
    assert_eq!(get("/ADMIN").host("API.example.com").on(&table), Some(0));
    assert_eq!(get("/ADMIN").host("other.example.com").on(&table), Some(1));
}

#[test]
fn escapes_fold_consistently() {
    let table = build(&[folded("c", prefix("/caf%C3%A9"))]);
    assert_eq!(get("/CAF%C3%A9").on(&table), Some(0));
    // Non-ASCII letters are not folded: `%C3%89` is `É`, not `é`.
    assert_eq!(get("/CAF%C3%89").on(&table), None);
}
