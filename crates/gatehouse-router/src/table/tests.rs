//! Route table tests. Helpers here; precedence, conditions and rewrites in `tests/`.

use gatehouse_config::model::{HostMatch, PathMatch, Route, RouteMatch};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use regex::Regex;

use super::RouteTable;
use crate::{Error, RouteRequest, host_of};

mod case;
mod conditions;
mod precedence;
mod rewrite;

/// A route named `name` on `path`, no other condition.
fn route(name: &str, path: Option<PathMatch>) -> Route {
    Route {
        name: name.to_owned(),
        matcher: RouteMatch {
            path,
            ..RouteMatch::default()
        },
        upstream: "backend".to_owned(),
        priority: 0,
        rewrite: None,
        preserve_host: true,
        websocket: false,
        plugins: Vec::new(),
        auth: None,
        resilience: Default::default(),
    }
}

fn exact(p: &str) -> Option<PathMatch> {
    Some(PathMatch::Exact(p.to_owned()))
}

fn prefix(p: &str) -> Option<PathMatch> {
    Some(PathMatch::Prefix(p.to_owned()))
}

fn template(p: &str) -> Option<PathMatch> {
    Some(PathMatch::Template(p.to_owned()))
}

fn regex(p: &str) -> Option<PathMatch> {
    Some(PathMatch::Regex(Regex::new(p).unwrap()))
}

fn with_hosts(mut r: Route, hosts: &[&str]) -> Route {
    r.matcher.hosts = hosts
        .iter()
        .map(|h| match h.strip_prefix('*') {
            Some(suffix) => HostMatch::Wildcard(suffix.to_owned()),
            None => HostMatch::Exact((*h).to_owned()),
        })
        .collect();
    r
}

fn build(routes: &[Route]) -> RouteTable {
    RouteTable::build(routes).unwrap()
}

/// A request under construction.
struct Req {
    host: Option<String>,
    path: String,
    method: Method,
    headers: HeaderMap,
    query: Option<String>,
}

/// What a lookup produced, owned.
#[derive(Debug, PartialEq)]
struct Hit {
    index: usize,
    params: Vec<(String, String)>,
    upstream_path: String,
    borrowed: bool,
}

fn get(path: &str) -> Req {
    Req {
        host: None,
        path: path.to_owned(),
        method: Method::GET,
        headers: HeaderMap::new(),
        query: None,
    }
}

impl Req {
    fn host(mut self, host: &str) -> Self {
        self.host = Some(host_of(host).into_owned());
        self
    }

    fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        self
    }

    fn query(mut self, query: &str) -> Self {
        self.query = Some(query.to_owned());
        self
    }

    fn hit(&self, table: &RouteTable) -> Option<Hit> {
        let req = RouteRequest {
            host: self.host.as_deref(),
            path: &self.path,
            method: &self.method,
            headers: &self.headers,
            query: self.query.as_deref(),
        };
        table.find(&req).map(|m| Hit {
            index: m.index,
            params: m.params,
            borrowed: matches!(m.upstream_path, std::borrow::Cow::Borrowed(_)),
            upstream_path: m.upstream_path.into_owned(),
        })
    }

    /// Index of the matched route.
    fn on(&self, table: &RouteTable) -> Option<usize> {
        self.hit(table).map(|h| h.index)
    }
}

#[test]
fn exact_path() {
    let table = build(&[route("a", exact("/health"))]);
    assert_eq!(get("/health").on(&table), Some(0));
    assert_eq!(get("/health/").on(&table), None);
    assert_eq!(get("/healthz").on(&table), None);
    assert_eq!(get("/").on(&table), None);
}

#[test]
fn prefix_matches_at_segment_boundaries() {
    let table = build(&[route("api", prefix("/api"))]);
    for hit in ["/api", "/api/", "/api/x", "/api/x/y/"] {
        assert_eq!(get(hit).on(&table), Some(0), "{hit}");
    }
    for miss in ["/apix", "/ap", "/", "/v1/api"] {
        assert_eq!(get(miss).on(&table), None, "{miss}");
    }
    let slash = build(&[route("api", prefix("/api/"))]);
    assert_eq!(
        get("/api").on(&slash),
        Some(0),
        "a trailing '/' on a prefix is ignored"
    );
    assert_eq!(get("/apix").on(&slash), None);
}

#[test]
fn root_prefix_and_no_path_match_everything() {
    for path in [prefix("/"), None] {
        let table = build(&[route("all", path)]);
        for p in ["/", "/a", "/a/b/", "/%3A"] {
            assert_eq!(get(p).on(&table), Some(0), "{p}");
        }
    }
}

#[test]
fn template_params_are_extracted() {
    let table = build(&[
        route("post", template("/users/{id}/posts/{post}")),
        route("files", template("/static/{*rest}")),
    ]);
    let hit = get("/users/42/posts/7").hit(&table).unwrap();
    assert_eq!(hit.index, 0);
    assert_eq!(
        hit.params,
        [("id".into(), "42".into()), ("post".into(), "7".into())]
    );
    let hit = get("/static/css/site.css").hit(&table).unwrap();
    assert_eq!(hit.params, [("rest".into(), "css/site.css".into())]);
    assert_eq!(get("/users/42/posts").on(&table), None);
    assert_eq!(
        get("/users//posts/7").on(&table),
        None,
        "a parameter is never empty"
    );
    assert_eq!(
        get("/static").on(&table),
        None,
        "a catch-all is never empty"
    );
    assert_eq!(get("/static/").on(&table), None);
}

#[test]
fn non_template_routes_have_no_params() {
    let table = build(&[route("a", prefix("/a"))]);
    let hit = get("/a/b").hit(&table).unwrap();
    assert!(hit.params.is_empty());
    assert_eq!(hit.params.capacity(), 0);
}

#[test]
fn route_paths_are_normalized_at_build() {
    let table = build(&[route("a", exact("/a/./b//%7ec"))]);
    assert_eq!(get("/a/b/~c").on(&table), Some(0));
}

#[test]
fn request_path_must_be_absolute() {
    let table = build(&[route("all", None)]);
    assert_eq!(get("").on(&table), None);
    assert_eq!(get("*").on(&table), None);
}

#[test]
fn build_errors_name_the_route() {
    let cases = [
        route("r1", template("/a/{*rest}/b")),
        route("r2", template("/a/{id}/{id}")),
        route("r3", template("/img-{id}.png")),
        route("r4", template("/a/{}")),
        route("r5", exact("/a%2Fb")),
        route("r6", prefix("relative")),
        with_hosts(route("r7", None), &["*example.com"]),
    ];
    for r in cases {
        let name = r.name.clone();
        match RouteTable::build(&[r]) {
            Err(Error::Route { route, .. }) => assert_eq!(route, name),
            other => panic!("{name}: expected a route error, got {other:?}"),
        }
    }
}

#[test]
fn empty_table_finds_nothing() {
    let table = build(&[]);
    assert!(table.is_empty());
    assert_eq!(get("/").on(&table), None);
}

#[test]
fn host_of_normalizes() {
    let cases = [
        ("example.com", "example.com"),
        ("Example.COM:8080", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:80", "[::1]"),
        ("[::1]", "[::1]"),
        ("[2001:DB8::1]:443", "[2001:db8::1]"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("user@host:1", "host"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(host_of(input), want, "{input}");
    }
    assert!(matches!(
        host_of("a.example.com"),
        std::borrow::Cow::Borrowed(_)
    ));
}
