//! Validation tests: a full valid configuration, and one test per error kind checking the
//! line, column and key path of the diagnostic.

mod errors;
mod identity;
mod limits;
mod paths;
mod valid;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::interpolate::Env;
use crate::{Config, ConfigError, Diagnostic};

/// A fixed environment for tests (the process environment is not touched).
pub(crate) struct MapEnv(pub HashMap<&'static str, &'static str>);

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| (*v).to_owned())
    }
}

/// Minimal valid prefix: one listener and one upstream.
pub(crate) const BASE: &str = "\
listeners:
  - name: public
    address: 127.0.0.1:8080
upstreams:
  users:
    targets: [10.0.0.1:8080]
";

/// Loads `text` as `/etc/gatehouse/gatehouse.yaml` with environment `env`.
pub(crate) fn load_env(
    text: &str,
    env: &[(&'static str, &'static str)],
) -> Result<Config, ConfigError> {
    let env = MapEnv(env.iter().copied().collect());
    crate::load_texts(&[(file(), text.to_owned())], &env)
}

/// Loads `text`; panics with the diagnostics when refused.
pub(crate) fn ok(text: &str) -> Config {
    match load_env(text, &[]) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config:\n{err}"),
    }
}

/// Loads `text`; returns its diagnostics, panics when accepted.
pub(crate) fn errors(text: &str) -> Vec<Diagnostic> {
    match load_env(text, &[]) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(err) => err.diagnostics,
    }
}

/// The file name used in tests.
pub(crate) fn file() -> PathBuf {
    PathBuf::from("/etc/gatehouse/gatehouse.yaml")
}

/// Asserts that exactly one diagnostic is reported, at `line:column` for `path`, and returns it.
#[track_caller]
pub(crate) fn one_error(text: &str, line: usize, column: usize, path: &str) -> Diagnostic {
    let diags = errors(text);
    assert_eq!(
        diags.len(),
        1,
        "expected exactly one diagnostic, got {diags:#?}"
    );
    let d = diags.into_iter().next().unwrap_or_else(|| unreachable!());
    assert_eq!(
        (d.line, d.column, d.path.as_str()),
        (line, column, path),
        "wrong location for {d}"
    );
    assert_eq!(d.file, Path::new("/etc/gatehouse/gatehouse.yaml"));
    d
}
