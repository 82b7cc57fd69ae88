//! Cache keys. The primary key is `path[?sorted query]|host|method|headers|consumer`, every part
//! escaped so that no request can forge another request's key; a response's `Vary` adds a
//! secondary part after `#`. Keys start with the path so that a purge by path prefix is a key prefix.

use std::fmt::Write;

use http::{HeaderMap, HeaderName, Method};

/// What the primary key is built from.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// Request method (HEAD shares GET's entry).
    pub method: &'a Method,
    /// Host the client addressed (lower-cased here), if any.
    pub host: Option<&'a str>,
    /// Normalized request path.
    pub path: &'a str,
    /// Raw query, if any.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Configured key headers.
    pub key_headers: &'a [HeaderName],
    /// Consumer id, when the key includes the consumer.
    pub consumer: Option<&'a str>,
}

/// The primary key of a request.
pub fn primary(k: &KeyInput<'_>) -> String {
    let mut key = path_and_query(k.path, k.query);
    key.push('|');
    escape_into(&mut key, &k.host.unwrap_or("").to_ascii_lowercase());
    key.push('|');
    if *k.method != Method::GET && *k.method != Method::HEAD {
        escape_into(&mut key, k.method.as_str());
    }
    key.push('|');
    push_header_values(&mut key, k.headers, k.key_headers);
    key.push('|');
    if let Some(consumer) = k.consumer {
        key.push('c');
        escape_into(&mut key, consumer);
    }
    key
}

/// The key of the variant of `primary` selected by the request's values of `vary`.
pub fn variant(primary: &str, vary: &[HeaderName], request: &HeaderMap) -> String {
    let mut key = String::with_capacity(primary.len() + 16);
    key.push_str(primary);
    key.push('#');
    push_header_values(&mut key, request, vary);
    key
}

/// The escaped, query-normalized form of `path[?query]`: the start of every key of that resource
/// (what a purge by exact key matches).
pub fn path_and_query(path: &str, query: Option<&str>) -> String {
    let mut key = String::with_capacity(path.len() + query.map_or(0, str::len) + 48);
    escape_into(&mut key, path);
    if let Some(query) = query {
        let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
        pairs.sort_unstable();
        if !pairs.is_empty() {
            key.push('?');
            escape_into(&mut key, &pairs.join("&"));
        }
    }
    key
}

/// The escaped form of a purge prefix (a path prefix).
pub fn prefix(prefix: &str) -> String {
    let mut key = String::with_capacity(prefix.len());
    escape_into(&mut key, prefix);
    key
}

/// `name=value,value;` for each listed header (all its lines, in order), escaped.
fn push_header_values(key: &mut String, headers: &HeaderMap, names: &[HeaderName]) {
    for name in names {
        key.push_str(name.as_str());
        key.push('=');
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                key.push(',');
            }
            escape_into(key, &String::from_utf8_lossy(value.as_bytes()));
        }
        key.push(';');
    }
}

/// Percent-escapes the separators (and `%` itself, so that escaping is injective) and controls.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '%' | '|' | '#' | ';' | '=' | ',' | '?' | '&' => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "%{:02X}", c as u32 & 0xff);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
