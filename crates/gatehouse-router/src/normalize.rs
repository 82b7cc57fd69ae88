//! Request path normalization.

use std::borrow::Cow;

use crate::PathError;

#[cfg(test)]
mod tests;

/// Normalizes a raw request path (without the query) into the form routes are matched against.
///
/// Rules, in order of application:
/// - the path must start with `/` (the `*` of `OPTIONS *` is the caller's business);
/// - a raw `\`, NUL or other control character (U+0000–U+001F, U+007F) is refused;
/// - every `%XX` escape must have two hex digits; `%2F`, `%5C` and `%00` are refused;
/// - escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, the hex of every other
///   escape is upper-cased (`%3a` → `%3A`);
/// - runs of `/` are merged (`//admin` → `/admin`);
/// - dot-segments are removed as in RFC 3986 §5.2.4, after decoding, so `/%2e%2e/admin`,
///   `/a/../admin` and `/../admin` all become `/admin`; `..` never climbs above `/`;
/// - a trailing `/` is kept (`/a/` stays `/a/`, `/a/.` becomes `/a/`).
///
/// The result is a fixed point: normalizing it again returns it unchanged. When the input is already
/// normalized (the common case) it is returned as [`Cow::Borrowed`] without allocating.
///
/// ```
/// use gatehouse_router::normalize_path;
/// assert_eq!(normalize_path("/a/../%7euser//x/").unwrap(), "/~user/x/");
/// assert!(normalize_path("/a%2Fb").is_err());
/// ```
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_normalized(raw.as_bytes())? {
        return Ok(Cow::Borrowed(raw));
    }
    let rebuilt = rebuild(raw)?;
    if rebuilt == raw {
        Ok(Cow::Borrowed(raw))
    } else {
        Ok(Cow::Owned(rebuilt))
    }
}

/// Fast scan: `Ok(true)` when `path` needs no change, `Ok(false)` when [`rebuild`] must run (it
/// validates escapes itself), `Err` on a raw character that is refused anyway.
fn is_normalized(path: &[u8]) -> Result<bool, PathError> {
    let mut segment_start = 1;
    for (i, &b) in path.iter().enumerate().skip(1) {
        match b {
            b'/' => {
                if is_removable(&path[segment_start..i]) {
                    return Ok(false);
                }
                segment_start = i + 1;
            }
            b'%' => return Ok(false),
            _ => check_raw(b)?,
        }
    }
    Ok(!matches!(&path[segment_start..], b"." | b".."))
}

/// A segment that [`rebuild`] would drop or collapse when it is not the last one.
fn is_removable(segment: &[u8]) -> bool {
    matches!(segment, b"" | b"." | b"..")
}

/// Refuses raw bytes that may not appear in a path.
fn check_raw(b: u8) -> Result<(), PathError> {
    match b {
        b'\\' => Err(PathError::Backslash),
        0..=0x1F | 0x7F => Err(PathError::ControlChar),
        _ => Ok(()),
    }
}

/// Slow path: decodes each segment into the output, merging slashes and removing dot-segments.
fn rebuild(raw: &str) -> Result<String, PathError> {
    let mut out = String::with_capacity(raw.len());
    let mut trailing_slash = false;
    let mut segments = raw[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
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
            _ => {}
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
