//! `RouteTable::find` on tables of 10 and 10,000 routes: lookup cost must not grow with the table.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use gatehouse_config::model::{HostMatch, PathMatch, Route, RouteMatch};
use gatehouse_router::{RouteRequest, RouteTable, normalize_path};
use http::{HeaderMap, Method};

/// `n` routes cycling through exact, prefix, template and host-bound (exact or wildcard) routes.
fn routes(n: usize) -> Vec<Route> {
    (0..n)
        .map(|i| {
            let (hosts, path) = match i % 4 {
                0 => (vec![], PathMatch::Exact(format!("/svc{i}/health"))),
                1 => (vec![], PathMatch::Prefix(format!("/svc{i}/api"))),
                2 => (
                    vec![],
                    PathMatch::Template(format!("/svc{i}/users/{{id}}/orders/{{order}}")),
                ),
                _ if i % 8 == 3 => (
                    vec![HostMatch::Exact(format!("h{i}.example.com"))],
                    PathMatch::Prefix("/status".to_owned()),
                ),
                _ => (
                    vec![HostMatch::Wildcard(format!(".t{i}.example.com"))],
                    PathMatch::Prefix("/".to_owned()),
                ),
            };
            Route {
                name: format!("r{i}"),
                matcher: RouteMatch {
                    hosts,
                    path: Some(path),
                    methods: if i % 3 == 0 {
                        vec![Method::GET]
                    } else {
                        vec![]
                    },
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
        })
        .collect()
}

fn find(c: &mut Criterion) {
    let headers = HeaderMap::new();
    let method = Method::GET;
    let mut group = c.benchmark_group("find");
    for n in [10, 10_000] {
        let table = RouteTable::build(&routes(n)).expect("bench routes are valid");
        // A template route in the middle of the table, asked for with a host that has its own
        // (non-matching) routes, so the exact-host, wildcard and any-host indexes are all visited.
        let hit_path = format!("/svc{}/users/42/orders/7", n / 2 + 2 - (n / 2) % 4);
        let cases = [
            ("hit", hit_path.as_str()),
            ("miss", "/nope/users/42/orders/7"),
        ];
        for (name, path) in cases {
            let req = RouteRequest {
                host: Some("h3.example.com"),
                path,
                method: &method,
                headers: &headers,
                query: Some("a=1&b=2"),
            };
            assert_eq!(
                table.find(&req).is_some(),
                name == "hit",
                "{name} on {n} routes"
            );
            group.bench_with_input(BenchmarkId::new(name, n), &req, |b, req| {
                b.iter(|| black_box(table.find(black_box(req))));
            });
        }
    }
    group.finish();
}

fn normalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize_path");
    for (name, path) in [
        ("clean", "/api/v1/users/42/orders"),
        ("dirty", "/api//v1/./users/%2e%2e/users/%34%32/orders"),
    ] {
        group.bench_with_input(name, path, |b, path| {
            b.iter(|| black_box(normalize_path(black_box(path))));
        });
    }
    group.finish();
}

criterion_group!(benches, find, normalize);
criterion_main!(benches);
