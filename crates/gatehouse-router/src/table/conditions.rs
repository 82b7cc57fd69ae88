//! Method, header and query conditions of a route.

use std::borrow::Cow;

use gatehouse_config::model::{HeaderMatch, QueryMatch, RouteMatch, ValueMatch};
use http::Method;
use percent_encoding::percent_decode_str;

use crate::RouteRequest;

/// The non-host, non-path conditions of one route; all must hold.
#[derive(Debug, Clone)]
pub(super) struct Conditions {
    methods: Vec<Method>,
    headers: Vec<HeaderMatch>,
    query: Vec<QueryMatch>,
}

impl Conditions {
    /// Copies the conditions out of a route's matcher.
    pub(super) fn new(matcher: &RouteMatch) -> Self {
        Conditions {
            methods: matcher.methods.clone(),
            headers: matcher.headers.clone(),
            query: matcher.query.clone(),
        }
    }

    /// How specific the route is beyond host and path: a method list counts one, each header and
    /// each query condition one.
    pub(super) fn count(&self) -> u32 {
        let methods = u32::from(!self.methods.is_empty());
        let others = self.headers.len().saturating_add(self.query.len());
        methods.saturating_add(u32::try_from(others).unwrap_or(u32::MAX))
    }

    /// Whether every condition holds for `req`.
    pub(super) fn matches(&self, req: &RouteRequest<'_>) -> bool {
        (self.methods.is_empty() || self.methods.contains(req.method))
            && self.headers.iter().all(|h| header_matches(h, req))
            && self.query.iter().all(|q| query_matches(q, req.query))
    }
}

/// Any value of the header (each field line on its own, not split on commas) satisfies the condition.
fn header_matches(cond: &HeaderMatch, req: &RouteRequest<'_>) -> bool {
    let mut values = req.headers.get_all(&cond.name).iter();
    match &cond.value {
        ValueMatch::Present => values.next().is_some(),
        ValueMatch::Exact(want) => values.any(|v| v.as_bytes() == want.as_bytes()),
        ValueMatch::Regex(re) => {
            values.any(|v| std::str::from_utf8(v.as_bytes()).is_ok_and(|v| re.is_match(v)))
        }
    }
}

/// Any occurrence of the parameter (decoded name) with a satisfying (decoded) value satisfies the
/// condition. `?flag` and `?flag=` are both present with the empty value.
fn query_matches(cond: &QueryMatch, query: Option<&str>) -> bool {
    let Some(query) = query else {
        return false;
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .any(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if decode_component(name) != cond.name.as_str() {
                return false;
            }
            match &cond.value {
                ValueMatch::Present => true,
                ValueMatch::Exact(want) => decode_component(value) == want.as_str(),
                ValueMatch::Regex(re) => re.is_match(&decode_component(value)),
            }
        })
}

/// Decodes a query component: `+` is a space, then percent-decoding (invalid UTF-8 replaced).
/// Borrows when there is nothing to decode.
pub(super) fn decode_component(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['+', '%']) {
        return Cow::Borrowed(raw);
    }
    let spaced = raw.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}
