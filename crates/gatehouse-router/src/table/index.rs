//! The per-host path index: exact map, template trie, prefix trie and the regex list.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;

use super::template::TemplateNode;
use super::{Entry, RoutePath};
use crate::RouteRequest;

/// Order of candidates within one path class; smaller is tried first.
///
/// Fields compare in declaration order: path specificity (templates only), number of other
/// conditions, priority (all descending), then declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rank {
    specificity: Reverse<(u32, u32)>,
    conditions: Reverse<u32>,
    priority: Reverse<i32>,
    /// Index of the route in the slice given to `build`.
    pub(super) index: usize,
}

impl Rank {
    /// The rank of route `index`.
    pub(super) fn new(
        index: usize,
        specificity: (u32, u32),
        conditions: u32,
        priority: i32,
    ) -> Self {
        Rank {
            specificity: Reverse(specificity),
            conditions: Reverse(conditions),
            priority: Reverse(priority),
            index,
        }
    }
}

/// Inserts `rank` into a sorted candidate list.
pub(super) fn insert_sorted(list: &mut Vec<Rank>, rank: Rank) {
    let at = list.partition_point(|r| *r < rank);
    list.insert(at, rank);
}

/// Splits the first segment off a path remainder: `a/b` → (`a`, `Some("b")`), `a` → (`a`, `None`).
pub(super) fn next_segment(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once('/') {
        Some((segment, next)) => (segment, Some(next)),
        None => (rest, None),
    }
}

/// The best candidate seen so far whose conditions pass.
pub(super) struct Candidates<'t, 'r> {
    best: Option<Rank>,
    entries: &'t [Entry],
    req: &'t RouteRequest<'r>,
}

impl<'t, 'r> Candidates<'t, 'r> {
    fn new(entries: &'t [Entry], req: &'t RouteRequest<'r>) -> Self {
        Candidates {
            best: None,
            entries,
            req,
        }
    }

    /// Tries a sorted list: stops at the first passing candidate or at one that cannot beat `best`.
    pub(super) fn consider(&mut self, list: &[Rank]) {
        for rank in list {
            if self.best.is_some_and(|best| *rank >= best) {
                return;
            }
            if self.passes(rank.index) {
                self.best = Some(*rank);
                return;
            }
        }
    }

    /// The first passing candidate of a sorted list.
    fn first(&self, list: &[Rank]) -> Option<Rank> {
        list.iter().copied().find(|r| self.passes(r.index))
    }

    fn passes(&self, index: usize) -> bool {
        self.entries
            .get(index)
            .is_some_and(|e| e.conditions.matches(self.req))
    }
}

/// A static segment trie of prefixes; the root is the prefix `/`.
#[derive(Debug, Default)]
struct PrefixNode {
    children: HashMap<Box<str>, PrefixNode>,
    routes: Vec<Rank>,
}

impl PrefixNode {
    /// The first passing candidate of the deepest node along `rest` that has one, with that
    /// node's depth (the root is 0).
    fn find(
        &self,
        rest: Option<&str>,
        depth: usize,
        candidates: &Candidates<'_, '_>,
    ) -> Option<(usize, Rank)> {
        rest.and_then(|rest| {
            let (segment, next) = next_segment(rest);
            self.children
                .get(segment)?
                .find(next, depth + 1, candidates)
        })
        .or_else(|| candidates.first(&self.routes).map(|rank| (depth, rank)))
    }
}

/// All routes of one host key (an exact host, a wildcard suffix, or any host), by path class.
#[derive(Debug, Default)]
pub(super) struct PathIndex {
    exact: HashMap<Box<str>, Vec<Rank>>,
    templates: TemplateNode,
    prefixes: PrefixNode,
    /// Regex-path routes, in precedence order: the one linear part. Case-insensitive ones are
    /// here too (their regex ignores case).
    regexes: Vec<Rank>,
    /// Exact, template and prefix routes that ignore case, keyed by their lower-cased paths and
    /// searched with the lower-cased request path; `None` (no cost) when there are none.
    folded: Option<Box<PathIndex>>,
}

impl PathIndex {
    /// Adds a route whose compiled path is `path` (lower-cased when `folded`).
    pub(super) fn insert(&mut self, path: &RoutePath, folded: bool, rank: Rank) {
        if folded && !matches!(path, RoutePath::Regex(_)) {
            let index = self.folded.get_or_insert_with(Box::default);
            return index.insert(path, false, rank);
        }
        match path {
            RoutePath::Exact(exact) => {
                insert_sorted(self.exact.entry(exact.as_str().into()).or_default(), rank);
            }
            RoutePath::Template(template) => self.templates.insert(template, rank),
            RoutePath::Prefix(prefix) => {
                let mut node = &mut self.prefixes;
                for segment in prefix.split('/').skip(1) {
                    node = node.children.entry(segment.into()).or_default();
                }
                insert_sorted(&mut node.routes, rank);
            }
            RoutePath::Regex(_) => insert_sorted(&mut self.regexes, rank),
        }
    }

    /// The best route for `req` among this index's routes: exact, then template, then longest
    /// prefix, then regex; within a class by [`Rank`]. Case-insensitive routes compete in each
    /// class with the others, matched against the lower-cased path.
    pub(super) fn find(&self, entries: &[Entry], req: &RouteRequest<'_>) -> Option<usize> {
        let mut candidates = Candidates::new(entries, req);
        let folded = self
            .folded
            .as_deref()
            .map(|f| (f, ascii_lowercase(req.path)));
        let folded = folded.as_ref().map(|(f, path)| (*f, path.as_ref()));
        let exact = |index: &PathIndex, path: &str| {
            (index.exact.get(path)).and_then(|list| candidates.first(list))
        };
        let best_exact = exact(self, req.path);
        let best_exact = match folded.and_then(|(f, path)| exact(f, path)) {
            Some(other) => Some(best_exact.map_or(other, |b| b.min(other))),
            None => best_exact,
        };
        if let Some(rank) = best_exact {
            return Some(rank.index);
        }
        let rest = req.path.strip_prefix('/');
        self.templates.search(rest, &mut candidates);
        if let Some((f, path)) = folded {
            f.templates.search(path.strip_prefix('/'), &mut candidates);
        }
        if let Some(best) = candidates.best {
            return Some(best.index);
        }
        let prefix = self.prefixes.find(rest, 0, &candidates);
        let folded_prefix =
            folded.and_then(|(f, path)| f.prefixes.find(path.strip_prefix('/'), 0, &candidates));
        // Deeper wins, then the better rank.
        let best_prefix = [prefix, folded_prefix]
            .into_iter()
            .flatten()
            .min_by_key(|&(depth, rank)| (Reverse(depth), rank));
        if let Some((_, rank)) = best_prefix {
            return Some(rank.index);
        }
        self.regexes.iter().map(|r| r.index).find(|&i| {
            entries.get(i).is_some_and(|e| match &e.path {
                RoutePath::Regex(re) => re.is_match(req.path) && e.conditions.matches(req),
                _ => false,
            })
        })
    }
}

/// `path` with ASCII letters lower-cased; borrowed when it has no upper-case letter.
fn ascii_lowercase(path: &str) -> Cow<'_, str> {
    match path.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(path.to_ascii_lowercase()),
        false => Cow::Borrowed(path),
    }
}
