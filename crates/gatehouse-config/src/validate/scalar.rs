//! Scalar values: strings, booleans, integers, durations, sizes, addresses, networks, header
//! names and values, methods, statuses, paths and regexes. Each reports its own problems.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use ipnet::IpNet;
use regex::Regex;

use super::Ctx;
use super::walk::{closest, list, type_error};
use crate::file::{Kind, Node};

/// A string (numbers and booleans are taken as spelled).
pub(crate) fn string(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    if node.failed {
        return None;
    }
    match node.text() {
        Some(text) => Some(text.into_owned()),
        None => {
            type_error(cx, node, path, "a string");
            None
        }
    }
}

/// A non-empty string.
pub(crate) fn non_empty(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let s = string(cx, node, path)?;
    if s.trim().is_empty() {
        cx.error(node, path, "must not be empty");
        return None;
    }
    Some(s)
}

/// A list of strings.
pub(crate) fn strings(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    each(cx, node, path, string)
}

/// Applies `f` to every item of a list; `None` when the list or any item was refused.
pub(crate) fn each<T>(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    mut f: impl FnMut(&mut Ctx, &Node, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let items = list(cx, node, path)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match f(cx, item, &format!("{path}[{i}]")) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `true` or `false`.
pub(crate) fn boolean(cx: &mut Ctx, node: &Node, path: &str) -> Option<bool> {
    match &node.kind {
        Kind::Bool(b) => Some(*b),
        Kind::Str(s) if node.interpolated && (s == "true" || s == "false") => Some(s == "true"),
        _ => {
            type_error(cx, node, path, "`true` or `false`");
            None
        }
    }
}

/// An integer in `min..=max`.
pub(crate) fn integer(cx: &mut Ctx, node: &Node, path: &str, min: i128, max: i128) -> Option<i128> {
    let value = match &node.kind {
        Kind::Int(i) => *i,
        Kind::Str(s) if node.interpolated && s.trim().parse::<i128>().is_ok() => {
            s.trim().parse::<i128>().ok()?
        }
        _ => {
            type_error(cx, node, path, "an integer");
            return None;
        }
    };
    if value < min || value > max {
        cx.error(
            node,
            path,
            format!("{value} is out of range (allowed {min} to {max})"),
        );
        return None;
    }
    Some(value)
}

/// A `u32` ≥ `min`.
pub(crate) fn u32_min(cx: &mut Ctx, node: &Node, path: &str, min: u32) -> Option<u32> {
    integer(cx, node, path, min.into(), u32::MAX.into()).and_then(|v| u32::try_from(v).ok())
}

/// A `usize` ≥ `min` (capped at `u32::MAX` so configs mean the same on every platform).
pub(crate) fn usize_min(cx: &mut Ctx, node: &Node, path: &str, min: usize) -> Option<usize> {
    let min = i128::try_from(min).unwrap_or(0);
    integer(cx, node, path, min, u32::MAX.into()).and_then(|v| usize::try_from(v).ok())
}

/// An `i32`.
pub(crate) fn i32_any(cx: &mut Ctx, node: &Node, path: &str) -> Option<i32> {
    integer(cx, node, path, i32::MIN.into(), i32::MAX.into()).and_then(|v| i32::try_from(v).ok())
}

/// A duration: `250ms`, `5s`, `1m`, `1h`, or combinations such as `1m30s`.
pub(crate) fn duration(cx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
    if let Kind::Int(i) = node.kind {
        cx.error_hint(
            node,
            path,
            format!("a duration needs a unit, found `{i}`"),
            format!("write e.g. `{i}s` or `{i}ms`"),
        );
        return None;
    }
    let text = string(cx, node, path)?;
    match parse_duration(&text) {
        Ok(d) => Some(d),
        Err(message) => {
            cx.error_hint(
                node,
                path,
                message,
                "durations look like `250ms`, `5s`, `1m`, `1h` or `1m30s`",
            );
            None
        }
    }
}

/// Parses `250ms`, `5s`, `1m`, `1h`, `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let invalid = || format!("invalid duration `{s}`");
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(invalid)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(invalid)?),
            "" => return Err(format!("duration `{s}` needs a unit")),
            unit => return Err(format!("unknown duration unit `{unit}` in `{s}`")),
        };
        total = total.checked_add(part).ok_or_else(invalid)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A size in bytes: an integer, or `32KiB`, `10MiB`, `1GiB`, `64KB`, `1MB`, `1GB` (case-insensitive).
pub(crate) fn size(cx: &mut Ctx, node: &Node, path: &str) -> Option<u64> {
    if let Kind::Int(i) = node.kind {
        return match u64::try_from(i) {
            Ok(v) => Some(v),
            Err(_) => {
                cx.error(node, path, format!("size {i} is out of range"));
                None
            }
        };
    }
    let text = string(cx, node, path)?;
    match parse_size(&text) {
        Some(v) => Some(v),
        None => {
            cx.error_hint(
                node,
                path,
                format!("invalid size `{text}`"),
                "sizes are bytes (`1024`) or `32KiB`, `10MiB`, `1GiB`, `64KB`, `1MB`",
            );
            None
        }
    }
}

/// Parses a size with an optional binary (`KiB`) or decimal (`KB`) unit.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let s = text.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s.get(..digits)?.parse().ok()?;
    let factor: u64 = match s[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A socket address to bind: `IP:port`.
pub(crate) fn socket_addr(cx: &mut Ctx, node: &Node, path: &str) -> Option<SocketAddr> {
    let text = string(cx, node, path)?;
    match text.trim().parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            cx.error_hint(
                node,
                path,
                format!("invalid address `{text}`"),
                "write `IP:port`, e.g. `0.0.0.0:8080` or `[::]:8443`",
            );
            None
        }
    }
}

/// A network (`10.0.0.0/8`) or a single address (→ `/32` or `/128`).
pub(crate) fn network(cx: &mut Ctx, node: &Node, path: &str) -> Option<IpNet> {
    let text = string(cx, node, path)?;
    let t = text.trim();
    let parsed = if t.contains('/') {
        t.parse::<IpNet>().ok().map(|n| n.trunc())
    } else {
        t.parse::<IpAddr>().ok().map(IpNet::from)
    };
    if parsed.is_none() {
        cx.error_hint(
            node,
            path,
            format!("invalid network `{text}`"),
            "write a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or an address (`192.168.1.7`)",
        );
    }
    parsed
}

/// A list of networks.
pub(crate) fn networks(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<IpNet>> {
    each(cx, node, path, network)
}

/// A header name.
pub(crate) fn header_name(cx: &mut Ctx, node: &Node, path: &str) -> Option<HeaderName> {
    let text = string(cx, node, path)?;
    header_name_str(cx, node, path, &text)
}

/// A header name given as text (e.g. a map key).
pub(crate) fn header_name_str(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    text: &str,
) -> Option<HeaderName> {
    match HeaderName::from_bytes(text.as_bytes()) {
        Ok(name) => Some(name),
        Err(_) => {
            cx.error_hint(
                node,
                path,
                format!("invalid header name `{text}`"),
                "header names are tokens: letters, digits and `!#$%&'*+-.^_|~`",
            );
            None
        }
    }
}

/// A list of header names.
pub(crate) fn header_names(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<HeaderName>> {
    each(cx, node, path, header_name)
}

/// A header value.
pub(crate) fn header_value(cx: &mut Ctx, node: &Node, path: &str) -> Option<HeaderValue> {
    let text = string(cx, node, path)?;
    match HeaderValue::from_str(&text) {
        Ok(v) => Some(v),
        Err(_) => {
            // Never echo the value: it may be a secret from `${...}`.
            cx.error(
                node,
                path,
                "invalid header value (control characters are not allowed)",
            );
            None
        }
    }
}

/// The methods accepted in config.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// An HTTP method (upper-cased; one of the standard methods).
pub(crate) fn method(cx: &mut Ctx, node: &Node, path: &str) -> Option<Method> {
    let text = string(cx, node, path)?;
    let upper = text.trim().to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        let hint = match closest(&upper, METHODS.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("one of {}", METHODS.join(", ")),
        };
        cx.error_hint(node, path, format!("unknown method `{text}`"), hint);
        return None;
    }
    Method::from_bytes(upper.as_bytes()).ok()
}

/// A list of methods.
pub(crate) fn methods(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<Method>> {
    each(cx, node, path, method)
}

/// An HTTP status code (100–599).
pub(crate) fn status(cx: &mut Ctx, node: &Node, path: &str) -> Option<u16> {
    match node.kind {
        Kind::Int(i) if !(100..=599).contains(&i) => {
            cx.error_hint(
                node,
                path,
                format!("invalid status code {i}"),
                "status codes are 100 to 599",
            );
            None
        }
        _ => integer(cx, node, path, 100, 599).and_then(|v| u16::try_from(v).ok()),
    }
}

/// A URL path: starts with `/`.
pub(crate) fn url_path(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = string(cx, node, path)?;
    if !text.starts_with('/') {
        cx.error_hint(
            node,
            path,
            format!("path `{text}` must start with `/`"),
            format!("write `/{}`", text.trim_start_matches('/')),
        );
        return None;
    }
    Some(text)
}

/// A regex matched against a whole value: wrapped as `^(?:...)$`.
pub(crate) fn anchored_regex(cx: &mut Ctx, node: &Node, path: &str) -> Option<Regex> {
    let text = string(cx, node, path)?;
    compile(cx, node, path, &format!("^(?:{text})$"), &text)
}

/// A regex used as written (searching, e.g. for rewrites).
pub(crate) fn regex(cx: &mut Ctx, node: &Node, path: &str) -> Option<Regex> {
    let text = string(cx, node, path)?;
    compile(cx, node, path, &text, &text)
}

fn compile(cx: &mut Ctx, node: &Node, path: &str, pattern: &str, shown: &str) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(re) => Some(re),
        Err(err) => {
            let reason = match err {
                regex::Error::CompiledTooBig(_) => "too big".to_owned(),
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            cx.error(node, path, format!("invalid regex `{shown}`: {reason}"));
            None
        }
    }
}

/// One of a fixed set of words (`request`, `require`, …), with "did you mean" for the others.
pub(crate) fn choice<T: Copy>(
    cx: &mut Ctx,
    node: &Node,
    path: &str,
    options: &[(&str, T)],
) -> Option<T> {
    let text = string(cx, node, path)?;
    let word = text.trim();
    if let Some((_, value)) = options.iter().find(|(name, _)| *name == word) {
        return Some(*value);
    }
    let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
    let hint = match closest(word, names.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("one of {}", names.join(", ")),
    };
    cx.error_hint(node, path, format!("unknown value `{text}`"), hint);
    None
}

/// A duration greater than zero.
pub(crate) fn positive_duration(cx: &mut Ctx, node: &Node, path: &str) -> Option<Duration> {
    let d = duration(cx, node, path)?;
    if d.is_zero() {
        cx.error(node, path, "must be greater than zero");
        return None;
    }
    Some(d)
}

/// An absolute `http://` or `https://` URL with a host.
pub(crate) fn http_url(cx: &mut Ctx, node: &Node, path: &str) -> Option<String> {
    let text = string(cx, node, path)?;
    let url = text.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let authority = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let host = authority.map(|a| a.rsplit('@').next().unwrap_or_default());
    let valid = host.is_some_and(|h| !h.is_empty() && !h.starts_with(':'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        cx.error_hint(
            node,
            path,
            format!("invalid URL `{text}`"),
            "write an absolute `http://` or `https://` URL, e.g. `https://idp.example.com/jwks.json`",
        );
        return None;
    }
    Some(url.to_owned())
}

/// A list of strings, or a single string (→ a one-item list).
pub(crate) fn one_or_many(cx: &mut Ctx, node: &Node, path: &str) -> Option<Vec<String>> {
    match node.kind {
        Kind::Seq(_) => each(cx, node, path, non_empty),
        _ => non_empty(cx, node, path).map(|s| vec![s]),
    }
}
