//! Request path normalization.

use std::borrow::Cow;

use gatehouse_config::model::{MatrixParams, PathPolicy};

use crate::PathError;

mod policy;
#[cfg(test)]
mod tests;

/// Normalizes a raw request path (without the query) under the default, strict [`PathPolicy`]:
/// [`normalize_path_with`]`(raw, &PathPolicy::STRICT)`.
///
/// ```
/// use gatehouse_router::normalize_path;
/// assert_eq!(normalize_path("/a/../%7euser//x/").unwrap(), "/~user/x/");
/// assert!(normalize_path("/a%2Fb").is_err());
/// assert!(normalize_path("/admin;jsessionid=1").is_err());
/// ```
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, PathError> {
    normalize_path_with(raw, &PathPolicy::STRICT)
}

/// Normalizes a raw request path (without the query) into the form routes are matched against.
///
/// Rules, in order of application:
/// - the path must start with `/` (the `*` of `OPTIONS *` is the caller's business);
/// - a raw `\`, NUL or other control character (U+0000–U+001F, U+007F) is refused;
/// - `;` parameters ([`PathPolicy::matrix_params`]): with `Refuse` a raw `;` or a `%3B` is refused,
///   with `Strip` each segment loses everything from its first raw `;` (before anything else, so
///   `/a/..;/b` is `/a/../b`, then `/b`) and `%3B` is refused, with `Allow` `;` is a plain character;
/// - every `%XX` escape must have two hex digits; `%2F`, `%5C` and `%00` are refused;
/// - escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, the hex of every other
///   escape is upper-cased (`%3a` → `%3A`);
/// - runs of `/` are merged (`//admin` → `/admin`);
/// - dot-segments are removed as in RFC 3986 §5.2.4, after decoding, so `/%2e%2e/admin`,
///   `/a/../admin` and `/../admin` all become `/admin`; `..` never climbs above `/`;
/// - a trailing `/` is kept (`/a/` stays `/a/`, `/a/.` becomes `/a/`);
/// - every remaining segment is checked against the policy's other rules, each refusing when set
///   to `Refuse`: a trailing `.` ([`PathPolicy::trailing_dots`]), whitespace or a control character
///   at either end ([`PathPolicy::whitespace`]), `%25` followed by two hex digits or `u`
///   ([`PathPolicy::double_encoding`]), an overlong UTF-8 sequence ([`PathPolicy::overlong_utf8`]).
///   These run on the decoded segment, so `/admin%2e` is a trailing dot and `%25%32%65` a double
///   encoding.
///
/// The result is a fixed point under the same policy: normalizing it again returns it unchanged.
/// When the input is already normalized (the common case) it is returned as [`Cow::Borrowed`]
/// without allocating.
///
/// ```
/// use gatehouse_config::model::{MatrixParams, PathPolicy};
/// use gatehouse_router::normalize_path_with;
/// let strip = PathPolicy { matrix_params: MatrixParams::Strip, ..PathPolicy::STRICT };
/// assert_eq!(normalize_path_with("/a;x/b;y=1", &strip).unwrap(), "/a/b");
/// assert_eq!(normalize_path_with("/admin;x", &PathPolicy::LENIENT).unwrap(), "/admin;x");
/// ```
pub fn normalize_path_with<'a>(
    raw: &'a str,
    policy: &PathPolicy,
) -> Result<Cow<'a, str>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_normalized(raw, policy)? {
        return Ok(Cow::Borrowed(raw));
    }
    let rebuilt = rebuild(raw, policy)?;
    if rebuilt == raw {
        Ok(Cow::Borrowed(raw))
    } else {
        Ok(Cow::Owned(rebuilt))
    }
}

/// Fast scan: `Ok(true)` when `path` needs no change, `Ok(false)` when [`rebuild`] must run (it
/// validates escapes itself), `Err` on a raw character or segment that is refused anyway.
fn is_normalized(path: &str, policy: &PathPolicy) -> Result<bool, PathError> {
    let bytes = path.as_bytes();
    let mut segment_start = 1;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match b {
            b'/' => {
                let segment = &path[segment_start..i];
                if is_removable(segment) {
                    return Ok(false);
                }
                policy::check_edges(segment, policy)?;
                segment_start = i + 1;
            }
            b'%' => return Ok(false),
            b';' => match policy.matrix_params {
                MatrixParams::Refuse => return Err(PathError::MatrixParams),
                MatrixParams::Strip => return Ok(false),
                MatrixParams::Allow => {}
            },
            _ => check_raw(b)?,
        }
    }
    let last = &path[segment_start..];
    if matches!(last, "." | "..") {
        return Ok(false);
    }
    if !last.is_empty() {
        policy::check_edges(last, policy)?;
    }
    Ok(true)
}

/// A segment that [`rebuild`] would drop or collapse when it is not the last one.
fn is_removable(segment: &str) -> bool {
    matches!(segment, "" | "." | "..")
}

/// Refuses raw bytes that may not appear in a path.
fn check_raw(b: u8) -> Result<(), PathError> {
    match b {
        b'\\' => Err(PathError::Backslash),
        0..=0x1F | 0x7F => Err(PathError::ControlChar),
        _ => Ok(()),
    }
}

/// Slow path: strips or refuses `;` parameters, decodes each segment into the output, merging
/// slashes, removing dot-segments and checking the policy's segment rules.
fn rebuild(raw: &str, policy: &PathPolicy) -> Result<String, PathError> {
    let mut out = String::with_capacity(raw.len());
    let mut trailing_slash = false;
    let mut segments = raw[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        let segment = match (policy.matrix_params, segment.split_once(';')) {
            (MatrixParams::Refuse, Some(_)) => return Err(PathError::MatrixParams),
            (MatrixParams::Strip, Some((kept, _params))) => kept,
            _ => segment,
        };
        let last = segments.peek().is_none();
        let mark = out.len();
        out.push('/');
        decode_segment(segment, &mut out)?;
        let decoded = &out[mark + 1..];
        trailing_slash = last && matches!(decoded, "" | "." | "..");
        match decoded {
            "" | "." => out.truncate(mark),
            ".." => {
                out.truncate(mark);
                let parent = out.rfind('/').unwrap_or(0);
                out.truncate(parent);
            }
            decoded => {
                policy::check_edges(decoded, policy)?;
                policy::check_escapes(decoded, policy)?;
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// Appends `segment` to `out`, decoding escapes of unreserved characters and upper-casing the rest.
fn decode_segment(segment: &str, out: &mut String) -> Result<(), PathError> {
    let bytes = segment.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'%' {
            check_raw(b)?;
            i += 1;
            continue;
        }
        out.push_str(&segment[run_start..i]);
        let (hi, lo) = match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(&hi), Some(&lo)) => (hex_value(hi)?, hex_value(lo)?),
            _ => return Err(PathError::InvalidEscape),
        };
        let value = hi << 4 | lo;
        match value {
            b'/' => return Err(PathError::EncodedSlash),
            b'\\' => return Err(PathError::EncodedBackslash),
            0 => return Err(PathError::EncodedNul),
            v if is_unreserved(v) => out.push(char::from(v)),
            _ => {
                out.push('%');
                out.push(char::from(HEX_UPPER[usize::from(hi)]));
                out.push(char::from(HEX_UPPER[usize::from(lo)]));
            }
        }
        i += 3;
        run_start = i;
    }
    out.push_str(&segment[run_start..]);
    Ok(())
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The value of one hex digit.
fn hex_value(b: u8) -> Result<u8, PathError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(PathError::InvalidEscape),
    }
}

/// RFC 3986 unreserved characters: `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}
