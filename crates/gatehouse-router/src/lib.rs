//! Gatehouse router: path normalization, the route table and path rewrites.
//!
//! The data plane calls, per request:
//! 1. [`normalize_path_with`] on the raw path (no query) with the configured
//!    [`PathPolicy`](gatehouse_config::model::PathPolicy) (`server.paths`): a [`PathError`] is a
//!    `400`; [`normalize_path`] uses the strict default policy;
//! 2. [`host_of`] on `:authority` / `Host`;
//! 3. [`RouteTable::find`] with a [`RouteRequest`]: `None` is a `404`, a [`Matched`] names the route
//!    (index into the slice given to [`RouteTable::build`]), its template parameters and the path to
//!    send upstream.
//!
//! [`RouteTable::build`] runs once per configuration and fails with [`Error::Route`] on a route it
//! cannot index. [`Error`] is the crate's one error type; [`PathError`] is its
//! [`Error::Path`] variant, returned alone by [`normalize_path`] because it is always a client error.
//!
//! # Matching
//!
//! A route matches when all its conditions hold: one of its hosts (none = any host), its path
//! (none = any path), one of its methods (none = any), every header condition and every query
//! condition. Headers: any field line of that name satisfies the value condition (lines are not
//! split on commas). Query: `name=value` pairs split on `&`, names and values `+`-as-space then
//! percent-decoded; any pair with the name satisfying the condition is enough; `?flag` is present
//! with the empty value. Regexes are used as given (the config crate anchors them). Methods compare
//! exactly (`HEAD` does not match a `GET`-only route).
//!
//! Paths: an exact path must equal the normalized request path (a trailing `/` is significant); a
//! prefix matches at segment boundaries (`/api` matches `/api`, `/api/`, `/api/x`, not `/apix`; a
//! trailing `/` on the prefix is ignored; `/` matches everything); a template has `{name}`
//! parameters spanning whole, non-empty segments and an optional last `{*rest}` that matches the
//! non-empty rest of the path; a regex must match the whole normalized path. Paths written in routes
//! get the base normalization (without the path policy) when the table is built. A route with
//! [`path_case_insensitive`](gatehouse_config::model::RouteMatch::path_case_insensitive) compares
//! its exact path, prefix or template literals with ASCII letters folded (and its regex
//! case-insensitively), in the same precedence classes as the other routes; the path sent upstream
//! keeps the request's case.
//!
//! Hosts: `Exact` compares with the [`host_of`] form; `Wildcard(".example.com")` matches one or more
//! labels before the suffix (`a.example.com`, `a.b.example.com`), never `example.com` itself.
//!
//! # Precedence
//!
//! Most specific first:
//! 1. host: exact host, then wildcard suffixes from the longest, then routes without host
//!    condition: the first of these groups with a matching route wins, whatever the paths;
//! 2. path: exact, then template (more literal segments first, then more segments that are not a
//!    catch-all, so `{name}` beats `{*rest}`), then the longest prefix (no path condition counts as
//!    prefix `/`), then regex;
//! 3. more other conditions first (a method list counts one, each header and query condition one);
//! 4. higher [`priority`](gatehouse_config::model::Route::priority);
//! 5. declaration order.
//!
//! A candidate whose conditions fail is skipped and the next one in that order is tried.
//!
//! # Cost
//!
//! Routes are indexed by host key (exact host map, wildcard suffix map probed once per label of the
//! request host, any-host), then per host key: a hash map of exact paths, a segment trie of
//! templates (visited depth-first; each node at most once), a segment trie of prefixes (walked
//! along the path), and a list of regex routes. Lookup cost depends on the request and on the
//! routes sharing its host key and path nodes, not on the total number of routes — except regex
//! paths, tried one by one after the other path classes found nothing. No allocation happens on a
//! lookup except template parameters and rewritten paths.
//!
//! # Rewrites
//!
//! Applied to the normalized path that matched, never the raw one:
//! - `StripPrefix` removes the matched prefix: a prefix route's prefix, an exact route's whole
//!   path, a template's leading literal segments (`/api/{v}/users` strips `/api`), nothing for a
//!   regex-path route or a route without path; the result is never empty (`/`);
//! - `ReplacePrefix(p)` puts `p` in place of that same part (no `//` at the join);
//! - `Regex { pattern, replacement }` replaces the first match, `$1`/`${name}` expand captures.
//!
//! Results always start with `/`. They are not normalized again.

mod error;
mod host;
mod normalize;
mod table;

pub use error::{Error, PathError};
pub use host::host_of;
pub use normalize::{normalize_path, normalize_path_with};
pub use table::{Matched, RouteRequest, RouteTable};
