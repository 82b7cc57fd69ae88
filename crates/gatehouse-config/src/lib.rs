//! Gatehouse configuration.
//!
//! YAML files are parsed into a raw file model (a tree of located YAML nodes), `${...}` references
//! in string values are interpolated, and the result is validated into the runtime
//! [`model::Config`] or into *every* error found, each with file, line, column, key path and a hint.
//!
//! ```no_run
//! let config = gatehouse_config::load(std::path::Path::new("examples/quickstart.yaml"));
//! ```
//!
//! See `docs/configuration.md` for every key and its default.

pub mod model;

mod error;
mod file;
mod interpolate;
mod validate;

pub use error::{ConfigError, Diagnostic};
pub use model::Config;

use std::path::{Path, PathBuf};

use interpolate::{Env, ProcessEnv};
use model::ConfigMeta;
use validate::{Ctx, Source};

/// Loads and validates a configuration from a YAML file or a directory of `*.yaml`/`*.yml` files
/// (merged in file-name order: `listeners`, `routes` and `plugins` concatenated, `upstreams`
/// merged; `server` and `admin` may each appear in one file only).
///
/// `${ENV}`, `${ENV:-default}` and `${file:path}` references are resolved from the process
/// environment and relative to each file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &ProcessEnv)
}

/// Loads and validates a configuration from YAML text; `file` names it in diagnostics and
/// relative paths (`${file:...}`, certificates) start from its directory.
pub fn load_str(text: &str, file: &Path) -> Result<Config, ConfigError> {
    load_texts(&[(file.to_path_buf(), text.to_owned())], &ProcessEnv)
}

fn load_with(path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
    let files = config_files(path)?;
    let mut texts = Vec::with_capacity(files.len());
    let mut diagnostics = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => texts.push((file, text)),
            Err(err) => diagnostics.push(unreadable(&file, &err)),
        }
    }
    if !diagnostics.is_empty() {
        return Err(ConfigError { diagnostics });
    }
    load_texts(&texts, env)
}

/// The files to read: `path` itself, or the `*.yaml`/`*.yml` files of a directory, by name.
fn config_files(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|err| ConfigError {
        diagnostics: vec![unreadable(path, &err)],
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|err| ConfigError {
        diagnostics: vec![unreadable(path, &err)],
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ConfigError {
            diagnostics: vec![Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                path: String::new(),
                message: "the directory holds no `*.yaml` or `*.yml` file".to_owned(),
                hint: None,
            }],
        });
    }
    Ok(files)
}

fn unreadable(file: &Path, err: &std::io::Error) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: 0,
        column: 0,
        path: String::new(),
        message: format!("cannot read the configuration: {}", err.kind()),
        hint: None,
    }
}

/// Parses, interpolates and validates file texts (in merge order).
fn load_texts(texts: &[(PathBuf, String)], env: &dyn Env) -> Result<Config, ConfigError> {
    let mut cx = Ctx::new(texts.first().map_or(Path::new(""), |(f, _)| f.as_path()));
    let mut sources = Vec::with_capacity(texts.len());
    for (file, text) in texts {
        match file::parse(text) {
            Ok(mut root) => {
                let base_dir = file.parent().unwrap_or(Path::new(""));
                for e in interpolate::interpolate_tree(&mut root, base_dir, env) {
                    cx.diagnostics.push(Diagnostic {
                        file: file.clone(),
                        line: e.line,
                        column: e.column,
                        path: e.path,
                        message: e.message,
                        hint: e.hint,
                    });
                }
                sources.push(Source {
                    file: file.clone(),
                    root,
                });
            }
            Err(err) => {
                cx.set_incomplete();
                cx.diagnostics.push(Diagnostic {
                    file: file.clone(),
                    line: err.line,
                    column: err.column,
                    path: String::new(),
                    message: format!("YAML syntax error: {}", err.message),
                    hint: None,
                });
            }
        }
    }
    let meta = ConfigMeta {
        files: texts.iter().map(|(f, _)| f.clone()).collect(),
        hash: content_hash(texts.iter().map(|(_, t)| t.as_str())),
    };
    let config = validate::validate(&mut cx, &sources, meta);
    match config {
        Some(config) if cx.diagnostics.is_empty() => Ok(config),
        _ => {
            let mut diagnostics = cx.diagnostics;
            sort_diagnostics(&mut diagnostics, texts);
            Err(ConfigError { diagnostics })
        }
    }
}

/// Orders diagnostics by file (in merge order), then line and column.
fn sort_diagnostics(diagnostics: &mut [Diagnostic], texts: &[(PathBuf, String)]) {
    let rank = |file: &Path| {
        texts
            .iter()
            .position(|(f, _)| f == file)
            .unwrap_or(usize::MAX)
    };
    diagnostics.sort_by_key(|d| (rank(&d.file), d.line, d.column));
}

/// FNV-1a 64 over every text (each followed by a separator), as 16 hex digits.
fn content_hash<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for text in texts {
        for byte in text.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests;
