//! One test per error kind: the diagnostic's line, column, key path and hint.

use super::{BASE, errors, one_error};

/// `BASE` has 6 lines; text appended to it starts on line 7.
fn with_base(rest: &str) -> String {
    format!("{BASE}{rest}")
}

#[test]
fn yaml_syntax_error_has_a_location() {
    let d = one_error("listeners: [\n  - a\n", 2, 3, "");
    assert!(d.message.starts_with("YAML syntax error"), "{d}");
}

#[test]
fn unknown_key_suggests_the_closest() {
    let text = with_base("routes:\n  - name: r\n    upstrem: users\n");
    let diags = errors(&text);
    let d = diags
        .iter()
        .find(|d| d.path == "routes[0].upstrem")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!((d.line, d.column), (9, 5));
    assert_eq!(d.message, "unknown key `upstrem`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `upstream`?"));
    // ... and the missing `upstream` is reported too, at the route's mapping.
    let m = diags
        .iter()
        .find(|d| d.path == "routes[0].upstream")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!((m.line, m.column), (8, 5));
    assert_eq!(diags.len(), 2);
}

#[test]
fn wrong_type() {
    let d = one_error(
        &with_base("server: { watch: [1] }\n"),
        7,
        18,
        "server.watch",
    );
    assert_eq!(d.message, "expected `true` or `false`, found a list");
    let d = one_error(
        &with_base("server:\n  worker_threads: lots\n"),
        8,
        19,
        "server.worker_threads",
    );
    assert_eq!(d.message, "expected an integer, found a string");
}

#[test]
fn missing_required_key() {
    let d = one_error(
        "listeners:\n  - name: a\nupstreams: {}\n",
        2,
        5,
        "listeners[0].address",
    );
    assert_eq!(d.message, "missing required key `address`");
}

#[test]
fn dangling_upstream_reference_suggests_a_name() {
    let d = one_error(
        &with_base("routes:\n  - name: r\n    upstream: userz\n"),
        9,
        15,
        "routes[0].upstream",
    );
    assert_eq!(d.message, "unknown upstream `userz`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `users`?"));
}

#[test]
fn duplicate_listener_name_and_address() {
    let text = "listeners:\n  - { name: a, address: 127.0.0.1:1 }\n  - { name: a, address: 127.0.0.1:1 }\n";
    let diags = errors(text);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_eq!(
        (diags[0].line, diags[0].column, diags[0].path.as_str()),
        (3, 13, "listeners[1].name")
    );
    assert!(
        diags[0].message.contains("duplicate listener name `a`"),
        "{}",
        diags[0]
    );
    assert!(
        diags[0].message.contains("gatehouse.yaml:2:13"),
        "{}",
        diags[0]
    );
    assert_eq!(
        (diags[1].line, diags[1].column, diags[1].path.as_str()),
        (3, 25, "listeners[1].address")
    );
    assert!(
        diags[1]
            .message
            .contains("duplicate listener address `127.0.0.1:1`")
    );
}

#[test]
fn duplicate_route_name() {
    let text =
        with_base("routes:\n  - { name: r, upstream: users }\n  - { name: r, upstream: users }\n");
    let d = one_error(&text, 9, 13, "routes[1].name");
    assert!(d.message.starts_with("duplicate route name `r`"));
}

#[test]
fn duplicate_yaml_key() {
    let d = one_error(
        &with_base("server:\n  via: a\n  via: b\n"),
        9,
        3,
        "server.via",
    );
    assert!(d.message.starts_with("duplicate key `via`"));
}

#[test]
fn invalid_values() {
    let cases: &[(&str, usize, usize, &str, &str)] = &[
        (
            "server: { shutdown_timeout: 5 }\n",
            7,
            29,
            "server.shutdown_timeout",
            "a duration needs a unit",
        ),
        (
            "server: { shutdown_timeout: 5y }\n",
            7,
            29,
            "server.shutdown_timeout",
            "unknown duration unit",
        ),
        (
            "server: { trusted_proxies: [10.0.0.0/33] }\n",
            7,
            29,
            "server.trusted_proxies[0]",
            "invalid network",
        ),
        (
            "routes:\n  - { name: r, upstream: users, match: { path: { regex: \"(\" } } }\n",
            8,
            57,
            "routes[0].match.path.regex",
            "invalid regex",
        ),
        (
            "routes:\n  - { name: r, upstream: users, match: { path: { prefix: api } } }\n",
            8,
            58,
            "routes[0].match.path.prefix",
            "must start with `/`",
        ),
        (
            "routes:\n  - { name: r, upstream: users, match: { methods: [GTE] } }\n",
            8,
            52,
            "routes[0].match.methods[0]",
            "unknown method `GTE`",
        ),
        (
            "routes:\n  - { name: r, upstream: users, match: { headers: { \"bad header\": x } } }\n",
            8,
            53,
            "routes[0].match.headers.bad header",
            "invalid header name",
        ),
        (
            "plugins:\n  - ip_restriction: { status: 99 }\n",
            8,
            31,
            "plugins[0].ip_restriction.status",
            "invalid status code 99",
        ),
        (
            "plugins:\n  - ip_restriction: { deny: [nope] }\n",
            8,
            30,
            "plugins[0].ip_restriction.deny[0]",
            "invalid network `nope`",
        ),
    ];
    for (rest, line, column, path, message) in cases {
        let d = one_error(&with_base(rest), *line, *column, path);
        assert!(d.message.contains(message), "{d} should mention {message}");
    }
}

#[test]
fn invalid_listener_values() {
    let d = one_error(
        "listeners:\n  - { name: b, address: \"0.0.0.0\" }\n",
        2,
        25,
        "listeners[0].address",
    );
    assert!(d.message.contains("invalid address"));
    let text =
        "listeners:\n  - name: b\n    address: 127.0.0.1:2\n    limits: { max_body_bytes: 10XB }\n";
    let d = one_error(text, 4, 31, "listeners[0].limits.max_body_bytes");
    assert!(d.message.contains("invalid size"));
}

#[test]
fn invalid_listener_abuse_limits() {
    let limits = |l: &str| {
        format!("listeners:\n  - name: b\n    address: 127.0.0.1:2\n    limits: {{ {l} }}\n")
    };
    let d = one_error(
        &limits("max_connections_per_ip: -1"),
        4,
        39,
        "listeners[0].limits.max_connections_per_ip",
    );
    assert!(d.message.contains("out of range"), "{d}");
    let d = one_error(
        &limits("body_read_timeout: 30"),
        4,
        34,
        "listeners[0].limits.body_read_timeout",
    );
    assert!(d.message.contains("needs a unit"), "{d}");
    let d = one_error(
        &limits("http2_control_frame_budget: lots"),
        4,
        43,
        "listeners[0].limits.http2_control_frame_budget",
    );
    assert!(d.message.contains("integer"), "{d}");
    let text = "listeners:\n  - name: b\n    address: 127.0.0.1:2\n    tls: { certificates: [{ cert: a, key: b }], strict_sni: yes }\n";
    let d = one_error(text, 4, 61, "listeners[0].tls.strict_sni");
    assert!(d.message.contains("`true` or `false`"), "{d}");
}

#[test]
fn unknown_plugin_name() {
    let d = one_error(
        &with_base("plugins:\n  - reqest_id: {}\n"),
        8,
        5,
        "plugins[0].reqest_id",
    );
    assert_eq!(d.message, "unknown plugin `reqest_id`");
    assert_eq!(d.hint.as_deref(), Some("did you mean `request_id`?"));
}

#[test]
fn cors_wildcard_with_credentials_is_refused() {
    let text = with_base(
        "plugins:\n  - cors:\n      allow_origins: [\"*\"]\n      allow_credentials: true\n",
    );
    let d = one_error(&text, 10, 26, "plugins[0].cors.allow_credentials");
    assert!(d.message.contains("`*` origin"));
}

#[test]
fn admin_off_loopback_needs_a_token() {
    let d = one_error(
        &with_base("admin: { address: 0.0.0.0:9901 }\n"),
        7,
        19,
        "admin.token",
    );
    assert!(d.message.contains("requires a `token`"));
    // An empty token (e.g. `${TOKEN:-}`) counts as none.
    one_error(
        &with_base("admin: { address: 10.1.1.1:9901, token: \"\" }\n"),
        7,
        19,
        "admin.token",
    );
}

#[test]
fn no_listeners() {
    let d = one_error("upstreams:\n  u: { targets: [a:1] }\n", 1, 1, "listeners");
    assert!(d.message.contains("no listeners"));
    one_error("listeners: []\n", 1, 12, "listeners");
}

#[test]
fn upstream_without_targets_and_zero_weight() {
    let text = "listeners: [{ name: a, address: 127.0.0.1:1 }]\nupstreams:\n  u: { targets: [] }\n  v:\n    targets: [{ address: a:1, weight: 0 }]\n";
    let diags = errors(text);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert_eq!(
        (diags[0].line, diags[0].column, diags[0].path.as_str()),
        (3, 17, "upstreams.u.targets")
    );
    assert!(diags[0].message.contains("at least one target"));
    assert_eq!(
        (diags[1].line, diags[1].column, diags[1].path.as_str()),
        (5, 39, "upstreams.v.targets[0].weight")
    );
    assert!(diags[1].message.contains("at least 1"));
}

#[test]
fn invalid_target_address() {
    let d = one_error(
        &with_base("  v: { targets: [\"no port\"] }\n"),
        7,
        18,
        "upstreams.v.targets[0]",
    );
    assert!(d.message.contains("invalid target address"));
}

#[test]
fn five_distinct_errors_are_all_reported() {
    let text = "\
listeners:
  - name: public
    adress: 0.0.0.0:8080
upstreams:
  users:
    targets: [{ address: 10.0.0.1:8080, weight: 0 }]
    timeouts: { connect: soon }
routes:
  - name: users
    upstream: userz
plugins:
  - cors: { allow_origins: [\"*\"], allow_credentials: true }
";
    let diags = errors(text);
    let got: Vec<(usize, usize, &str)> = diags
        .iter()
        .map(|d| (d.line, d.column, d.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, 5, "listeners[0].address"),
            (3, 5, "listeners[0].adress"),
            (6, 49, "upstreams.users.targets[0].weight"),
            (7, 26, "upstreams.users.timeouts.connect"),
            (10, 15, "routes[0].upstream"),
            (12, 54, "plugins[0].cors.allow_credentials"),
        ],
        "{diags:#?}"
    );
}

#[test]
fn rewrite_prefix_needs_a_prefix_route() {
    let text =
        with_base("routes:\n  - { name: r, upstream: users, rewrite: { strip_prefix: true } }\n");
    let d = one_error(&text, 8, 58, "routes[0].rewrite.strip_prefix");
    assert!(d.message.contains("prefix path condition"));
}

#[test]
fn plugin_entry_with_two_plugins() {
    let d = one_error(
        &with_base("plugins:\n  - { cors: {}, request_id: {} }\n"),
        8,
        5,
        "plugins[0]",
    );
    assert!(d.message.contains("exactly one plugin"));
}

#[test]
fn invalid_request_buffers() {
    let text = |b: &str| with_base(&format!("server:\n  request_buffers: {{ {b} }}\n"));
    let d = one_error(&text("total: 0"), 8, 29, "server.request_buffers.total");
    assert!(d.message.contains("above 0"), "{d}");
    let d = one_error(
        &text("per_connection: lots"),
        8,
        38,
        "server.request_buffers.per_connection",
    );
    assert!(d.message.contains("size"), "{d}");
    let d = one_error(
        &text("per_conection: 1MiB"),
        8,
        22,
        "server.request_buffers.per_conection",
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap_or_default()
            .contains("per_connection"),
        "{d}"
    );
}
