//! Applying a route's [`Rewrite`] to the matched path.

use std::borrow::Cow;

use gatehouse_config::model::Rewrite;

/// The part of the matched path that prefix rewrites remove or replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MatchedPrefix {
    /// The first `n` bytes: a prefix route's prefix, a template's leading literal segments,
    /// `0` for a route without path condition.
    Bytes(usize),
    /// The whole path (exact routes).
    Whole,
    /// None: prefix rewrites leave the path alone (regex-path routes).
    Unknown,
}

/// The path sent upstream: `path` (normalized, matched) with `rewrite` applied.
pub(super) fn apply<'a>(
    path: &'a str,
    rewrite: Option<&Rewrite>,
    prefix: MatchedPrefix,
) -> Cow<'a, str> {
    let Some(rewrite) = rewrite else {
        return Cow::Borrowed(path);
    };
    let rest = match prefix {
        MatchedPrefix::Bytes(n) => path.get(n..),
        MatchedPrefix::Whole => Some(""),
        MatchedPrefix::Unknown => None,
    };
    match (rewrite, rest) {
        (Rewrite::StripPrefix, Some(rest)) => join("", rest),
        (Rewrite::ReplacePrefix(replacement), Some(rest)) => join(replacement, rest),
        (Rewrite::StripPrefix | Rewrite::ReplacePrefix(_), None) => Cow::Borrowed(path),
        (
            Rewrite::Regex {
                pattern,
                replacement,
            },
            _,
        ) => absolute(pattern.replace(path, replacement.as_str())),
    }
}

/// `head` + `tail` without doubling the `/` between them; absolute and never empty.
fn join<'a>(head: &str, tail: &'a str) -> Cow<'a, str> {
    if head.is_empty() {
        return absolute(Cow::Borrowed(tail));
    }
    let tail = match (head.ends_with('/'), tail.strip_prefix('/')) {
        (true, Some(stripped)) => stripped,
        _ => tail,
    };
    absolute(Cow::Owned([head, tail].concat()))
}

/// Makes a rewritten path start with `/` (`""` → `/`).
fn absolute(path: Cow<'_, str>) -> Cow<'_, str> {
    if path.starts_with('/') {
        path
    } else if path.is_empty() {
        Cow::Borrowed("/")
    } else {
        Cow::Owned(format!("/{path}"))
    }
}
