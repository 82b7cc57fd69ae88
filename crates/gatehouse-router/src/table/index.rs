//! The per-host path index: exact map, template trie, prefix trie and the regex list.

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
    fn first(&self, list: &[Rank]) -> Option<usize> {
        list.iter().map(|r| r.index).find(|&i| self.passes(i))
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
    /// The first passing candidate of the deepest node along `rest` that has one.
    fn find(&self, rest: Option<&str>, candidates: &Candidates<'_, '_>) -> Option<usize> {
        rest.and_then(|rest| {
            let (segment, next) = next_segment(rest);
            self.children.get(segment)?.find(next, candidates)
        })
        .or_else(|| candidates.first(&self.routes))
    }
}

/// All routes of one host key (an exact host, a wildcard suffix, or any host), by path class.
#[derive(Debug, Default)]
pub(super) struct PathIndex {
    exact: HashMap<Box<str>, Vec<Rank>>,
    templates: TemplateNode,
    prefixes: PrefixNode,
    /// Regex-path routes, in precedence order: the one linear part.
    regexes: Vec<Rank>,
}

impl PathIndex {
    /// Adds a route whose compiled path is `path`.
    pub(super) fn insert(&mut self, path: &RoutePath, rank: Rank) {
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
    /// prefix, then regex; within a class by [`Rank`].
    pub(super) fn find(&self, entries: &[Entry], req: &RouteRequest<'_>) -> Option<usize> {
        let mut candidates = Candidates::new(entries, req);
        let exact = self.exact.get(req.path);
        if let Some(index) = exact.and_then(|list| candidates.first(list)) {
            return Some(index);
        }
        let rest = req.path.strip_prefix('/');
        self.templates.search(rest, &mut candidates);
        if let Some(best) = candidates.best {
            return Some(best.index);
        }
        if let Some(index) = self.prefixes.find(rest, &candidates) {
            return Some(index);
        }
        self.regexes.iter().map(|r| r.index).find(|&i| {
            entries.get(i).is_some_and(|e| match &e.path {
                RoutePath::Regex(re) => re.is_match(req.path) && e.conditions.matches(req),
                _ => false,
            })
        })
    }
}
