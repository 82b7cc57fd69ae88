//! The [`PathPolicy`] rules that look at one decoded segment: trailing dots, whitespace at the
//! edges, double encoding, overlong UTF-8 and encoded `;`.
//!
//! A decoded segment (see `decode_segment`) has only valid `%XX` escapes, and every `%` in it starts
//! one, so escapes are recognized by position alone.

use gatehouse_config::model::{MatrixParams, PathPolicy, PathRule};

use crate::PathError;

/// Rules that look at the first and last character only: cheap enough for the fast path.
///
/// `segment` is non-empty and not a dot-segment (`.` or `..`).
pub(super) fn check_edges(segment: &str, policy: &PathPolicy) -> Result<(), PathError> {
    if policy.trailing_dots == PathRule::Refuse && segment.ends_with('.') {
        return Err(PathError::TrailingDot);
    }
    if policy.whitespace == PathRule::Refuse
        && (first_char(segment).is_some_and(is_blank) || last_char(segment).is_some_and(is_blank))
    {
        return Err(PathError::Whitespace);
    }
    Ok(())
}

/// Rules on escapes: `%25` + hex hex or `u` (double encoding), `%3B` (an encoded `;`), overlong
/// UTF-8. Only called on the slow path (a path with `%`).
pub(super) fn check_escapes(segment: &str, policy: &PathPolicy) -> Result<(), PathError> {
    let bytes = segment.as_bytes();
    let mut previous: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let Some(value) = escape_at(bytes, i) else {
            previous = None;
            i += 1;
            continue;
        };
        let next = |k: usize| bytes.get(i + 3 + k).copied();
        let double = value == b'%'
            && (next(0).is_some_and(|b| b.is_ascii_hexdigit())
                && next(1).is_some_and(|b| b.is_ascii_hexdigit())
                || matches!(next(0), Some(b'u' | b'U')));
        if double && policy.double_encoding == PathRule::Refuse {
            return Err(PathError::DoubleEncoding);
        }
        if value == b';' && policy.matrix_params != MatrixParams::Allow {
            return Err(PathError::MatrixParams);
        }
        if policy.overlong_utf8 == PathRule::Refuse
            && previous.is_some_and(|lead| is_overlong(lead, value))
        {
            return Err(PathError::OverlongUtf8);
        }
        previous = Some(value);
        i += 3;
    }
    Ok(())
}

/// Whether `lead` followed by `second` starts an overlong UTF-8 sequence: `C0`/`C1` + any
/// continuation (2 bytes for an ASCII character), `E0` + `80`–`9F`, `F0` + `80`–`8F`.
fn is_overlong(lead: u8, second: u8) -> bool {
    match lead {
        0xC0 | 0xC1 => (0x80..=0xBF).contains(&second),
        0xE0 => (0x80..=0x9F).contains(&second),
        0xF0 => (0x80..=0x8F).contains(&second),
        _ => false,
    }
}

/// Whitespace, a control character (C0, DEL, C1) or an invisible character that some back-ends
/// trim (zero-width spaces and joiners, word joiner, byte-order mark).
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// The byte value of the escape starting at `i`, if one does.
fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    if bytes.get(i) != Some(&b'%') {
        return None;
    }
    let hex = |k: usize| bytes.get(i + k).and_then(|&b| char::from(b).to_digit(16));
    let value = hex(1)? << 4 | hex(2)?;
    u8::try_from(value).ok()
}

/// The first character of a decoded segment: raw, or spelled by its leading escapes (UTF-8, or
/// Latin-1 when the escapes are not valid UTF-8).
fn first_char(segment: &str) -> Option<char> {
    let bytes = segment.as_bytes();
    let Some(lead) = escape_at(bytes, 0) else {
        return segment.chars().next();
    };
    let len = match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    };
    let mut buf = [lead, 0, 0, 0];
    for (k, slot) in buf.iter_mut().enumerate().take(len).skip(1) {
        match escape_at(bytes, 3 * k) {
            Some(b) => *slot = b,
            None => return Some(char::from(lead)),
        }
    }
    let decoded = std::str::from_utf8(&buf[..len]).ok();
    Some(
        decoded
            .and_then(|s| s.chars().next())
            .unwrap_or(char::from(lead)),
    )
}

/// The last character of a decoded segment: raw, or spelled by its trailing escapes (UTF-8, or
/// Latin-1 when they do not end in a valid UTF-8 sequence).
fn last_char(segment: &str) -> Option<char> {
    let bytes = segment.as_bytes();
    let mut buf = [0u8; 4];
    let mut count = 0;
    while count < 4 {
        let Some(at) = bytes.len().checked_sub(3 * (count + 1)) else {
            break;
        };
        match escape_at(bytes, at) {
            Some(b) => buf[3 - count] = b,
            None => break,
        }
        count += 1;
    }
    if count == 0 {
        return segment.chars().next_back();
    }
    let tail = &buf[4 - count..];
    (1..=count)
        .find_map(|k| {
            let decoded = std::str::from_utf8(&tail[count - k..]).ok()?;
            let mut chars = decoded.chars();
            chars.next().filter(|_| chars.next().is_none())
        })
        .or(Some(char::from(tail[count - 1])))
}
