//! Reading the token from its sources, and removing it before the request is forwarded.

use gatehouse_config::model::TokenSource;
use http::header::{AUTHORIZATION, COOKIE, HeaderValue};
use http::{Uri, request};

/// The tokens of every `Authorization: Bearer <token>` (empty ones skipped).
pub fn bearers(req: &request::Parts) -> impl Iterator<Item = String> + '_ {
    req.headers.get_all(AUTHORIZATION).iter().filter_map(|v| {
        let value = v.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        (!token.is_empty()).then(|| token.to_owned())
    })
}

/// The values of every cookie `name`, in every `Cookie` header (empty ones skipped).
pub fn cookies<'a>(req: &'a request::Parts, name: &'a str) -> impl Iterator<Item = String> + 'a {
    req.headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// The values of every query parameter `name` (empty ones skipped). A JWT needs no
/// percent-decoding; `%2E`-style escapes of its characters are decoded anyway.
pub fn queries<'a>(req: &'a request::Parts, name: &'a str) -> impl Iterator<Item = String> + 'a {
    req.uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| decode_dots(v))
        .filter(|v| !v.is_empty())
}

fn decode_dots(v: &str) -> String {
    v.replace("%2E", ".").replace("%2e", ".")
}

/// Removes the credential read from `source`.
pub fn remove(req: &mut request::Parts, source: &TokenSource) {
    match source {
        TokenSource::Bearer => {
            req.headers.remove(AUTHORIZATION);
        }
        TokenSource::Cookie(name) => remove_cookie(req, name),
        TokenSource::Query(name) => remove_query(req, name),
    }
}

fn remove_cookie(req: &mut request::Parts, name: &str) {
    let kept: Vec<String> = req
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split_once('=').is_none_or(|(n, _)| n != name))
        .map(str::to_owned)
        .collect();
    req.headers.remove(COOKIE);
    if !kept.is_empty()
        && let Ok(value) = HeaderValue::from_str(&kept.join("; "))
    {
        req.headers.insert(COOKIE, value);
    }
}

fn remove_query(req: &mut request::Parts, name: &str) {
    let Some(query) = req.uri.query() else { return };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split_once('=').map_or(*pair, |(n, _)| n) != name)
        .collect();
    let path = req.uri.path();
    let path_and_query = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let mut parts = req.uri.clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return,
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        req.uri = uri;
    }
}
