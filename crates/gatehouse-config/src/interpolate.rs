//! `${...}` references in string values.
//!
//! - `${NAME}`: the environment variable `NAME`; an error when it is not set.
//! - `${NAME:-default}`: `NAME`, or `default` when it is unset or empty.
//! - `${file:path}`: the contents of a file (relative paths are relative to the config file's
//!   directory), one trailing newline trimmed; an error when it cannot be read.
//! - `$${` is a literal `${`.
//!
//! Interpolation runs on the parsed tree, on string scalars that are values (never keys), so
//! locations stay those of the YAML source. Diagnostics name variables and files, never values.

use std::path::Path;

use crate::file::{Kind, Node};

/// One problem found while interpolating, located at the string's node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterpolationError {
    /// 1-based line of the string.
    pub line: usize,
    /// 1-based column of the string.
    pub column: usize,
    /// Key path of the string.
    pub path: String,
    /// What is wrong (names the variable or file, never a value).
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Where interpolated values come from.
pub(crate) trait Env {
    /// The value of environment variable `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Replaces `${...}` references in every string value of `root`, collecting every error.
/// `base_dir` is the directory relative `${file:...}` paths start from.
pub(crate) fn interpolate_tree(
    root: &mut Node,
    base_dir: &Path,
    env: &dyn Env,
) -> Vec<InterpolationError> {
    let mut errors = Vec::new();
    walk(root, String::new(), base_dir, env, &mut errors);
    errors
}

fn walk(
    node: &mut Node,
    path: String,
    base_dir: &Path,
    env: &dyn Env,
    errors: &mut Vec<InterpolationError>,
) {
    match &mut node.kind {
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{path}[{i}]"), base_dir, env, errors);
            }
        }
        Kind::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                let name = key.text().map(|t| t.into_owned()).unwrap_or_default();
                let sub = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                walk(value, sub, base_dir, env, errors);
            }
        }
        Kind::Str(s) if s.contains("${") => match expand(s, base_dir, env) {
            Ok(out) => {
                *s = out;
                node.interpolated = true;
            }
            Err(problems) => {
                node.failed = true;
                for (message, hint) in problems {
                    errors.push(InterpolationError {
                        line: node.line,
                        column: node.column,
                        path: path.clone(),
                        message,
                        hint,
                    });
                }
            }
        },
        _ => {}
    }
}

type Problem = (String, Option<String>);

/// Expands every reference in `input`; on failure returns every problem (message, hint).
pub(crate) fn expand(input: &str, base_dir: &Path, env: &dyn Env) -> Result<String, Vec<Problem>> {
    let mut out = String::with_capacity(input.len());
    let mut problems = Vec::new();
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                problems.push((
                    "unterminated `${` reference".to_owned(),
                    Some("close it with `}`, or write `$${` for a literal `${`".to_owned()),
                ));
                rest = "";
                break;
            };
            match resolve(&tail[..end], base_dir, env) {
                Ok(value) => out.push_str(&value),
                Err(problem) => problems.push(problem),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn resolve(expr: &str, base_dir: &Path, env: &dyn Env) -> Result<String, Problem> {
    if let Some(file) = expr.strip_prefix("file:") {
        return read_file(file.trim(), base_dir);
    }
    let (name, default) = match expr.split_once(":-") {
        Some((name, default)) => (name.trim(), Some(default)),
        None => (expr.trim(), None),
    };
    if !is_var_name(name) {
        return Err((
            format!("`${{{expr}}}` is not a valid reference"),
            Some(
                "use `${NAME}`, `${NAME:-default}` or `${file:path}`; write `$${` for a literal `${`"
                    .to_owned(),
            ),
        ));
    }
    match (env.var(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err((
            format!("environment variable `{name}` is not set"),
            Some(format!(
                "set `{name}`, or give a default with `${{{name}:-default}}`"
            )),
        )),
    }
}

fn read_file(file: &str, base_dir: &Path) -> Result<String, Problem> {
    if file.is_empty() {
        return Err(("`${file:}` names no file".to_owned(), None));
    }
    let path = base_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(mut text) => {
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(text)
        }
        Err(err) => Err((
            format!("cannot read `{}`: {}", path.display(), io_reason(&err)),
            Some("relative paths start from the config file's directory".to_owned()),
        )),
    }
}

/// The kind of an I/O error, without anything read from the file.
fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::InvalidData => "not valid UTF-8".to_owned(),
        kind => kind.to_string(),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests;
