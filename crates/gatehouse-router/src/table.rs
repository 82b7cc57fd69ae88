//! The route table: built once per configuration, queried once per request.

use std::borrow::Cow;
use std::collections::HashMap;

use gatehouse_config::model::{HostMatch, PathMatch, PathPolicy, Rewrite, Route};
use regex::{Regex, RegexBuilder};

use crate::host::{host_of, wildcard_suffixes};
use crate::{Error, normalize_path_with};

mod conditions;
mod index;
mod rewrite;
mod template;

#[cfg(test)]
mod tests;

use conditions::Conditions;
use index::{PathIndex, Rank};
use rewrite::MatchedPrefix;
use template::Template;

/// What [`RouteTable::find`] looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// The request's host as returned by [`host_of`]: lower-case, without port. `None` when the
    /// request has neither `:authority` nor `Host`; then only routes without host condition match.
    pub host: Option<&'a str>,
    /// The path as returned by [`normalize_path`]. A path not starting with `/` matches nothing.
    pub path: &'a str,
    /// The request method.
    pub method: &'a http::Method,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The raw query string, without `?`; `None` when the target has no `?`.
    pub query: Option<&'a str>,
}

/// The route chosen for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    /// Index of the route in the slice given to [`RouteTable::build`].
    pub index: usize,
    /// Template parameters in template order (`{*rest}` without its leading `/`); empty, and not
    /// allocated, for routes without a template.
    pub params: Vec<(String, String)>,
    /// The path to send upstream: the normalized request path with the route's rewrite applied.
    /// Borrowed from the request path when there is no rewrite or a strip-prefix.
    pub upstream_path: Cow<'a, str>,
}

/// The compiled path condition of a route.
#[derive(Debug)]
enum RoutePath {
    /// Normalized exact path.
    Exact(String),
    /// Normalized prefix without trailing `/`; `""` is the prefix `/` (and no path condition).
    Prefix(String),
    /// Parsed template.
    Template(Template),
    /// Anchored regex on the normalized path.
    Regex(Regex),
}

/// What the table keeps of a route.
#[derive(Debug)]
struct Entry {
    /// Compiled path; lower-cased (ASCII) for a case-insensitive route.
    path: RoutePath,
    conditions: Conditions,
    rewrite: Option<Rewrite>,
    prefix: MatchedPrefix,
}

/// The routes of one configuration, indexed for lookup.
///
/// Lookup cost depends on the request (host labels, path segments) and on how many routes share the
/// request's host key and path node, not on the total number of routes, except for routes with a
/// regex path, which are tried one by one after every other path class failed.
#[derive(Debug)]
pub struct RouteTable {
    entries: Vec<Entry>,
    exact_hosts: HashMap<Box<str>, PathIndex>,
    wildcard_hosts: HashMap<Box<str>, PathIndex>,
    any_host: PathIndex,
}

impl RouteTable {
    /// Indexes `routes`; [`Matched::index`] refers to positions in this slice.
    ///
    /// Fails with [`Error::Route`] when a route's path does not normalize, a template is malformed
    /// (parameters must be whole segments, `{*rest}` last, names unique) or a wildcard host does
    /// not start with `.`.
    pub fn build(routes: &[Route]) -> Result<RouteTable, Error> {
        let mut table = RouteTable {
            entries: Vec::with_capacity(routes.len()),
            exact_hosts: HashMap::new(),
            wildcard_hosts: HashMap::new(),
            any_host: PathIndex::default(),
        };
        for (index, route) in routes.iter().enumerate() {
            let (path, prefix, specificity) = compile_path(route)?;
            let folded = route.matcher.path_case_insensitive;
            let conditions = Conditions::new(&route.matcher);
            let rank = Rank::new(index, specificity, conditions.count(), route.priority);
            if route.matcher.hosts.is_empty() {
                table.any_host.insert(&path, folded, rank);
            }
            for host in &route.matcher.hosts {
                let index = match host {
                    HostMatch::Exact(host) => {
                        let key = host_of(host).into_owned().into_boxed_str();
                        table.exact_hosts.entry(key).or_default()
                    }
                    HostMatch::Wildcard(suffix) => {
                        let key = wildcard_key(suffix).ok_or_else(|| {
                            Error::route(&route.name, "wildcard host must look like `.example.com`")
                        })?;
                        table.wildcard_hosts.entry(key).or_default()
                    }
                };
                index.insert(&path, folded, rank);
            }
            table.entries.push(Entry {
                path,
                conditions,
                rewrite: route.rewrite.clone(),
                prefix,
            });
        }
        Ok(table)
    }

    /// The best route for `req`, or `None` (→ 404).
    ///
    /// Host keys are tried most specific first (exact host, wildcard suffixes longest first, any
    /// host); the first key with a route whose conditions all hold wins. Within a key: exact path,
    /// template, longest prefix, regex; then more conditions, higher priority, earlier declaration.
    pub fn find<'a>(&self, req: &RouteRequest<'a>) -> Option<Matched<'a>> {
        let index = self.find_index(req)?;
        let entry = self.entries.get(index)?;
        let params = match &entry.path {
            RoutePath::Template(template) => template.params(req.path),
            _ => Vec::new(),
        };
        Some(Matched {
            index,
            params,
            upstream_path: rewrite::apply(req.path, entry.rewrite.as_ref(), entry.prefix),
        })
    }

    /// Number of routes in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no routes (every request is a 404).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find_index(&self, req: &RouteRequest<'_>) -> Option<usize> {
        if !req.path.starts_with('/') {
            return None;
        }
        let in_index = |index: &PathIndex| index.find(&self.entries, req);
        if let Some(host) = req.host {
            if let Some(found) = self.exact_hosts.get(host).and_then(in_index) {
                return Some(found);
            }
            if !self.wildcard_hosts.is_empty() {
                let mut suffixes = wildcard_suffixes(host);
                let found = suffixes.find_map(|s| self.wildcard_hosts.get(s).and_then(in_index));
                if found.is_some() {
                    return found;
                }
            }
        }
        in_index(&self.any_host)
    }
}

/// Compiles a route's path condition: its index key, the part prefix rewrites act on, and its
/// specificity among templates.
///
/// Route paths get the base normalization only ([`PathPolicy::LENIENT`]): a route written with a
/// `;` or a trailing `.` is accepted, and matches only what the request policy lets through. A
/// case-insensitive route's path is lower-cased (ASCII; byte lengths, hence rewrite offsets, are
/// unchanged), its regex compiled case-insensitively.
fn compile_path(route: &Route) -> Result<(RoutePath, MatchedPrefix, (u32, u32)), Error> {
    let folded = route.matcher.path_case_insensitive;
    let normalized = |path: &str| {
        normalize_path_with(path, &PathPolicy::LENIENT)
            .map(|p| match folded {
                true => p.to_ascii_lowercase(),
                false => p.into_owned(),
            })
            .map_err(|e| Error::route(&route.name, format!("path `{path}`: {e}")))
    };
    Ok(match &route.matcher.path {
        None => (
            RoutePath::Prefix(String::new()),
            MatchedPrefix::Bytes(0),
            (0, 0),
        ),
        Some(PathMatch::Exact(path)) => (
            RoutePath::Exact(normalized(path)?),
            MatchedPrefix::Whole,
            (0, 0),
        ),
        Some(PathMatch::Prefix(path)) => {
            let mut prefix = normalized(path)?;
            let trimmed = prefix.trim_end_matches('/').len();
            prefix.truncate(trimmed);
            let len = prefix.len();
            (RoutePath::Prefix(prefix), MatchedPrefix::Bytes(len), (0, 0))
        }
        Some(PathMatch::Template(path)) => {
            let template = Template::parse(&normalized(path)?)
                .map_err(|reason| Error::route(&route.name, reason))?;
            let prefix = MatchedPrefix::Bytes(template.literal_prefix_len());
            let specificity = template.specificity();
            (RoutePath::Template(template), prefix, specificity)
        }
        Some(PathMatch::Regex(re)) => {
            let re = match folded {
                true => RegexBuilder::new(re.as_str())
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| Error::route(&route.name, format!("path regex: {e}")))?,
                false => re.clone(),
            };
            (RoutePath::Regex(re), MatchedPrefix::Unknown, (0, 0))
        }
    })
}

/// The lookup key of a wildcard host: `.example.com` (a leading `*` is tolerated), lower-cased.
fn wildcard_key(suffix: &str) -> Option<Box<str>> {
    let suffix = suffix.strip_prefix('*').unwrap_or(suffix);
    let key = host_of(suffix);
    (key.len() > 1 && key.starts_with('.')).then(|| key.into_owned().into_boxed_str())
}
