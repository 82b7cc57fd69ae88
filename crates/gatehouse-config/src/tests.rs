//! Loading: files, directories, interpolation, hashing, and robustness on arbitrary input.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::validate::tests::{BASE, MapEnv, load_env};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn load_reads_a_single_file() {
    let dir = tempdir();
    write(dir.path(), "gatehouse.yaml", BASE);
    let config = load(&dir.path().join("gatehouse.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.meta.files, vec![dir.path().join("gatehouse.yaml")]);
    assert_eq!(config.listeners.len(), 1);
}

#[test]
fn directory_files_are_merged_in_name_order() {
    let dir = tempdir();
    write(
        dir.path(),
        "10-routes.yml",
        "routes:\n  - { name: b, upstream: orders }\nplugins:\n  - request_id: {}\n",
    );
    write(
        dir.path(),
        "00-base.yaml",
        "listeners: [{ name: a, address: 127.0.0.1:1 }]\nupstreams:\n  users: { targets: [u:1] }\nroutes:\n  - { name: a, upstream: users }\n",
    );
    write(
        dir.path(),
        "20-more.yaml",
        "upstreams:\n  orders: { targets: [o:1] }\nlisteners: [{ name: b, address: 127.0.0.1:2 }]\n",
    );
    write(dir.path(), "notes.txt", "not: [yaml");
    std::fs::create_dir(dir.path().join("sub.yaml")).unwrap_or_else(|e| panic!("{e}"));

    let config = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let names = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        config
            .listeners
            .iter()
            .map(|l| l.name.clone())
            .collect::<Vec<_>>(),
        names(vec!["a", "b"])
    );
    assert_eq!(
        config
            .upstreams
            .iter()
            .map(|u| u.name.clone())
            .collect::<Vec<_>>(),
        names(vec!["users", "orders"])
    );
    assert_eq!(
        config
            .routes
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>(),
        names(vec!["a", "b"])
    );
    assert_eq!(config.plugins.len(), 1);
    assert_eq!(
        config.meta.files,
        vec![
            dir.path().join("00-base.yaml"),
            dir.path().join("10-routes.yml"),
            dir.path().join("20-more.yaml")
        ]
    );

    // The hash is stable, and changes with any file.
    let again = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.meta.hash, again.meta.hash);
    write(
        dir.path(),
        "20-more.yaml",
        "upstreams:\n  orders: { targets: [o:2] }\n",
    );
    let changed = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(config.meta.hash, changed.meta.hash);
}

#[test]
fn directory_conflicts_name_both_files() {
    let dir = tempdir();
    write(
        dir.path(),
        "a.yaml",
        "server: { via: a }\nlisteners: [{ name: l, address: 127.0.0.1:1 }]\nupstreams:\n  users: { targets: [u:1] }\n",
    );
    write(
        dir.path(),
        "b.yaml",
        "server: { via: b }\nlisteners: [{ name: l, address: 127.0.0.1:2 }]\nupstreams:\n  users: { targets: [u:2] }\nroutes:\n  - { name: r, upstream: nope }\n",
    );
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("conflicts expected"));
    let b = dir.path().join("b.yaml");
    let got: Vec<(&Path, usize, usize, &str)> = err
        .diagnostics
        .iter()
        .map(|d| (d.file.as_path(), d.line, d.column, d.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (b.as_path(), 1, 9, "server"),
            (b.as_path(), 2, 21, "listeners[0].name"),
            (b.as_path(), 4, 3, "upstreams.users"),
            (b.as_path(), 6, 26, "routes[0].upstream"),
        ],
        "{err}"
    );
    let a = dir.path().join("a.yaml").display().to_string();
    assert!(
        err.diagnostics[0].message.contains(&a),
        "{}",
        err.diagnostics[0]
    );
    assert!(
        err.diagnostics[2].message.contains(&format!("{a}:4:3")),
        "{}",
        err.diagnostics[2]
    );
}

#[test]
fn a_syntax_error_in_one_file_does_not_hide_the_others() {
    let dir = tempdir();
    write(dir.path(), "a.yaml", "listeners: [\n");
    write(
        dir.path(),
        "b.yaml",
        "routes:\n  - { name: r, upstream: elsewhere, prority: 1 }\n",
    );
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("errors expected"));
    assert_eq!(err.diagnostics.len(), 2, "{err}");
    assert_eq!(err.diagnostics[0].file, dir.path().join("a.yaml"));
    assert!(err.diagnostics[0].message.starts_with("YAML syntax error"));
    // The upstream may live in the broken file: no "unknown upstream" guess, but the typo is reported.
    assert_eq!(err.diagnostics[1].path, "routes[0].prority");
}

#[test]
fn missing_path_and_empty_directory() {
    let dir = tempdir();
    let err = load(&dir.path().join("nope.yaml"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!(err.diagnostics.len(), 1);
    let err = load(dir.path())
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert!(err.diagnostics[0].message.contains("no `*.yaml`"));
}

#[test]
fn env_and_file_references_are_interpolated() {
    let dir = tempdir();
    write(dir.path(), "token.txt", "from-file\n");
    let text = format!(
        "{BASE}admin: {{ address: 0.0.0.0:9901, token: \"${{file:token.txt}}\" }}\nserver:\n  via: \"${{VIA}}\"\n  worker_threads: ${{THREADS:-3}}\n  watch: ${{WATCH}}\n"
    );
    let env = MapEnv([("VIA", "edge"), ("WATCH", "false")].into_iter().collect());
    let config =
        load_texts(&[(dir.path().join("g.yaml"), text)], &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.admin.and_then(|a| a.token).as_deref(),
        Some("from-file")
    );
    assert_eq!(config.server.via, "edge");
    assert_eq!(config.server.worker_threads, Some(3));
    assert!(!config.server.watch);
}

#[test]
fn interpolation_errors_name_the_variable_not_the_value() {
    let text = format!(
        "{BASE}admin: {{ address: 0.0.0.0:9901, token: \"${{ADMIN_TOKEN}}\" }}\nserver: {{ via: \"${{SECRET}}\\x01\" }}\n"
    );
    let err = load_env(&text, &[("SECRET", "hunter2")])
        .err()
        .unwrap_or_else(|| panic!("errors expected"));
    let rendered = err.to_string();
    assert!(rendered.contains("`ADMIN_TOKEN` is not set"), "{rendered}");
    assert!(!rendered.contains("hunter2"), "{rendered}");
    // The failed token is not reported a second time as "requires a token".
    assert_eq!(err.diagnostics.len(), 2, "{rendered}");
    let d = &err.diagnostics[0];
    assert_eq!((d.line, d.column, d.path.as_str()), (7, 40, "admin.token"));
}

#[test]
fn load_str_names_the_file() {
    let err = load_str("listeners: 5\n", Path::new("x.yaml"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!(err.diagnostics[0].file, Path::new("x.yaml"));
    assert_eq!(
        err.diagnostics[0].message,
        "expected a list, found an integer"
    );
}

#[test]
fn display_lists_every_diagnostic() {
    let err = load_str("listeners: []\nbogus: 1\n", Path::new("c.yaml"))
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    let text = err.to_string();
    assert!(
        text.starts_with("configuration refused: 2 errors"),
        "{text}"
    );
    assert!(
        text.contains("c.yaml:2:1: bogus: unknown key `bogus`"),
        "{text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = load_str(&text, Path::new("fuzz.yaml"));
    }

    #[test]
    fn yamlish_text_never_panics(
        text in proptest::collection::vec(
            prop_oneof![
                Just("listeners:"), Just("  - name: a"), Just("    address: 127.0.0.1:1"),
                Just("upstreams:"), Just("  u: { targets: [a:1] }"), Just("routes:"),
                Just("  - { name: r, upstream: u, match: { path: { regex: \"(\" } } }"),
                Just("plugins:"), Just("  - cors: { allow_origins: [\"*\"] }"), Just("- [1, {a: b}]"),
                Just("  ${X} : $${"), Just("&a x: *a"), Just("\t"), Just(": :"), Just("'"),
                Just("admin: { address: 0.0.0.0:1 }"), Just("server: { shutdown_timeout: 99999999999999999999h }"),
            ],
            0..12,
        )
    ) {
        let _ = load_str(&text.join("\n"), Path::new("fuzz.yaml"));
    }
}

#[test]
fn documented_example_output() {
    let text = "listeners: [{ name: a, address: 127.0.0.1:1 }]\n# comment\n# comment\nupstreams:\n  users:\n    targets: []\nroutes:\n  - name: r\n    upstrem: users\n";
    let err = load_str(text, Path::new("gatehouse.yaml"))
        .err()
        .unwrap_or_else(|| panic!("errors expected"));
    let expected = "\
configuration refused: 3 errors
  gatehouse.yaml:6:14: upstreams.users.targets: an upstream needs at least one target (hint: add `- host:port`)
  gatehouse.yaml:8:5: routes[0].upstream: missing required key `upstream` (hint: add `upstream: ...`)
  gatehouse.yaml:9:5: routes[0].upstrem: unknown key `upstrem` (hint: did you mean `upstream`?)
";
    assert_eq!(err.to_string(), expected);
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused_not_expanded() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for name in 'b'..='k' {
        bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        prev = name;
    }
    assert!(load_str(&bomb, Path::new("bomb.yaml")).is_err());
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(load_str(&deep, Path::new("deep.yaml")).is_err());
}
