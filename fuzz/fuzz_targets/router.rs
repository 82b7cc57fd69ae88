//! Fuzz `RouteTable::find` on a fixed table with arbitrary host, path and query: never panics, and
//! a match always yields an absolute upstream path.
#![no_main]

use std::sync::LazyLock;

use gatehouse_config::model::{
    HeaderMatch, HostMatch, PathMatch, QueryMatch, Rewrite, Route, RouteMatch, RouteResilience,
    ValueMatch,
};
use gatehouse_router::{RouteRequest, RouteTable, host_of, normalize_path};
use http::{HeaderMap, HeaderName, Method};
use libfuzzer_sys::fuzz_target;
use regex::Regex;

fn route(name: &str, hosts: Vec<HostMatch>, path: PathMatch, rewrite: Option<Rewrite>) -> Route {
    Route {
        name: name.to_owned(),
        matcher: RouteMatch {
            hosts,
            path: Some(path),
            ..RouteMatch::default()
        },
        upstream: "backend".to_owned(),
        priority: 0,
        rewrite,
        preserve_host: true,
        websocket: false,
        plugins: Vec::new(),
        auth: None,
        resilience: RouteResilience::default(),
    }
}

static TABLE: LazyLock<RouteTable> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("valid regex");
    let mut conditioned = route("cond", vec![], PathMatch::Prefix("/c".into()), None);
    conditioned.matcher.query = vec![QueryMatch {
        name: "q".into(),
        value: ValueMatch::Regex(re("^[a-z ]+$")),
    }];
    conditioned.matcher.headers = vec![HeaderMatch {
        name: HeaderName::from_static("x-a"),
        value: ValueMatch::Present,
    }];
    let routes = vec![
        route(
            "exact",
            vec![],
            PathMatch::Exact("/health".into()),
            Some(Rewrite::StripPrefix),
        ),
        route(
            "api",
            vec![],
            PathMatch::Prefix("/api".into()),
            Some(Rewrite::StripPrefix),
        ),
        route(
            "users",
            vec![],
            PathMatch::Template("/users/{id}/{*rest}".into()),
            Some(Rewrite::ReplacePrefix("/u/".into())),
        ),
        route(
            "tpl",
            vec![],
            PathMatch::Template("/{a}/{b}/c".into()),
            None,
        ),
        route(
            "host",
            vec![
                HostMatch::Exact("a.example.com".into()),
                HostMatch::Wildcard(".example.org".into()),
            ],
            PathMatch::Prefix("/".into()),
            None,
        ),
        route(
            "re",
            vec![],
            PathMatch::Regex(re("^/v([0-9]+)/(.*)$")),
            Some(Rewrite::Regex {
                pattern: re("^/v([0-9]+)/(.*)$"),
                replacement: "/$2?v=$1".into(),
            }),
        ),
        conditioned,
    ];
    RouteTable::build(&routes).expect("fuzz table is valid")
});

fuzz_target!(|input: (&str, &str, Option<&str>)| {
    let (host, path, query) = input;
    let Ok(path) = normalize_path(path) else {
        return;
    };
    let host = host_of(host);
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("x-a"),
        http::HeaderValue::from_static("1"),
    );
    let req = RouteRequest {
        host: Some(&host),
        path: &path,
        method: &Method::GET,
        headers: &headers,
        query,
    };
    if let Some(matched) = TABLE.find(&req) {
        assert!(matched.index < TABLE.len());
        assert!(matched.upstream_path.starts_with('/'));
    }
});
