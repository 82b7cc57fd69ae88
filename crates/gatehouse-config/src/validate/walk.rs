//! Walking mappings and lists: allowed keys, required keys, key paths, "did you mean".

use super::Ctx;
use crate::file::{Kind, Node};

/// A mapping whose keys have been checked against the allowed ones.
pub(crate) struct Obj<'n> {
    /// The mapping node.
    pub node: &'n Node,
    entries: &'n [(Node, Node)],
    /// Key path of the mapping.
    pub path: String,
}

impl<'n> Obj<'n> {
    /// Checks that `node` is a mapping whose keys are all in `allowed`, reporting every unknown
    /// key with the closest allowed one as a hint. `None` (reported) when it is not a mapping.
    pub(crate) fn new(cx: &mut Ctx, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Self> {
        let obj = Self::any_keys(cx, node, path, "a map")?;
        for (key, _) in obj.entries {
            let Some(name) = key.text() else { continue };
            if !allowed.contains(&name.as_ref()) {
                unknown_key(cx, key, &join(path, &name), &name, allowed);
            }
        }
        Some(obj)
    }

    /// Checks only that `node` is a mapping (its keys are names chosen by the user).
    pub(crate) fn any_keys(
        cx: &mut Ctx,
        node: &'n Node,
        path: &str,
        expected: &str,
    ) -> Option<Self> {
        match &node.kind {
            Kind::Map(entries) => Some(Obj {
                node,
                entries,
                path: path.to_owned(),
            }),
            _ => {
                type_error(cx, node, path, expected);
                None
            }
        }
    }

    /// The value of `key`; `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.text().as_deref() == Some(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// The value of required `key`; reports it missing (at the mapping) when absent or null.
    pub(crate) fn req(&self, cx: &mut Ctx, key: &str) -> Option<&'n Node> {
        let value = self.get(key);
        if value.is_none() {
            cx.error_hint(
                self.node,
                &self.at(key),
                format!("missing required key `{key}`"),
                format!("add `{key}: ...`"),
            );
        }
        value
    }

    /// The one key of `kinds` present in this mapping, with its value and key path. Reports
    /// `message` (with `hint`) when none or several are present.
    pub(crate) fn exactly_one<'k>(
        &self,
        cx: &mut Ctx,
        kinds: &[&'k str],
        message: &str,
        hint: &str,
    ) -> Option<(&'k str, &'n Node, String)> {
        let given: Vec<&'k str> = kinds
            .iter()
            .copied()
            .filter(|k| self.get(k).is_some())
            .collect();
        let [kind] = given.as_slice() else {
            cx.error_hint(self.node, &self.path, message, hint);
            return None;
        };
        Some((kind, self.get(kind)?, self.at(kind)))
    }

    /// Key path of `key` in this mapping.
    pub(crate) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The entries (key name, key node, value node), in source order, first of duplicates only.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (String, &'n Node, &'n Node)> + '_ {
        let mut seen = std::collections::HashSet::new();
        self.entries.iter().filter_map(move |(k, v)| {
            let name = k.text()?.into_owned();
            seen.insert(name.clone()).then_some((name, k, v))
        })
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The items of a list; reports (and returns `None`) when `node` is not a list.
pub(crate) fn list<'n>(cx: &mut Ctx, node: &'n Node, path: &str) -> Option<&'n [Node]> {
    match &node.kind {
        Kind::Seq(items) => Some(items),
        _ => {
            type_error(cx, node, path, "a list");
            None
        }
    }
}

/// Reports "expected X, found Y" (unless the node's interpolation already failed).
pub(crate) fn type_error(cx: &mut Ctx, node: &Node, path: &str, expected: &str) {
    if node.failed {
        return;
    }
    cx.error(
        node,
        path,
        format!("expected {expected}, found {}", node.describe()),
    );
}

/// Reports an unknown key with the closest allowed key as a hint.
pub(crate) fn unknown_key(cx: &mut Ctx, key: &Node, path: &str, name: &str, allowed: &[&str]) {
    let hint = match closest(name, allowed.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("allowed keys: {}", allowed.join(", ")),
    };
    cx.error_hint(key, path, format!("unknown key `{name}`"), hint);
}

/// `path.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
