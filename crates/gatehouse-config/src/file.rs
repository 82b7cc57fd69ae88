//! The raw file model: a YAML document as a tree of [`Node`]s, each with its source location.
//!
//! The document is parsed generically (never into typed structs), so a wrong type or an unknown
//! key in one place cannot hide the errors in another: validation walks this tree and reports
//! every problem it finds. Only YAML *syntax* errors stop parsing, because nothing after them can
//! be trusted.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use serde_saphyr::options::DuplicateKeyPolicy;

/// One YAML node with its location (1-based line and column, as characters).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// For non-string scalars (numbers, booleans): their spelling in the source, e.g. `1.20`.
    pub raw: Option<String>,
    /// The value came out of `${...}` interpolation (it was a string, so scalars that look
    /// like numbers or booleans are accepted where those are expected).
    pub interpolated: bool,
    /// Interpolating the value failed (already reported): validation skips it silently.
    pub failed: bool,
    /// Byte range of the node in the source, when known (used to recover spellings).
    span: Option<(usize, usize)>,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false` (YAML 1.2 spellings only).
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, duplicates kept (they are reported during validation).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node of `kind` at `line:column`.
    pub(crate) fn new(kind: Kind, line: usize, column: usize) -> Self {
        Node {
            kind,
            line,
            column,
            raw: None,
            interpolated: false,
            failed: false,
            span: None,
        }
    }

    /// The text of a scalar as written (strings as their value, numbers and booleans as spelled);
    /// `None` for null, sequences and mappings.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match &self.kind {
            Kind::Str(s) => Some(Cow::Borrowed(s)),
            Kind::Int(i) => Some(self.raw_or(|| i.to_string())),
            Kind::Float(f) => Some(self.raw_or(|| f.to_string())),
            Kind::Bool(b) => Some(self.raw_or(|| b.to_string())),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    fn raw_or(&self, f: impl FnOnce() -> String) -> Cow<'_, str> {
        match &self.raw {
            Some(raw) => Cow::Borrowed(raw),
            None => Cow::Owned(f()),
        }
    }

    /// Whether the node is `null` (or empty).
    pub(crate) fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// What kind of node this is, for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }

    /// Fills `raw` from the source text for number and boolean scalars, recursively.
    fn attach_raw(&mut self, text: &str) {
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.attach_raw(text)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.attach_raw(text);
                v.attach_raw(text);
            }),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
                let slice = self
                    .span
                    .and_then(|(off, len)| text.get(off..off.checked_add(len)?));
                // An alias (`*a`) points at the alias token, not at the value: keep the parsed value.
                if let Some(s) = slice.filter(|s| !s.is_empty() && !s.starts_with('*')) {
                    self.raw = Some(s.to_owned());
                }
            }
            Kind::Null | Kind::Str(_) => {}
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What the parser said, without the location.
    pub message: String,
}

/// Parses YAML text into a [`Node`] tree. An empty document is a `Null` node.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Node>(text, options) {
        Ok(mut node) => {
            node.attach_raw(text);
            Ok(node)
        }
        Err(err) => {
            let (line, column) = err
                .location()
                .map(|l| (to_usize(l.line()), to_usize(l.column())))
                .unwrap_or((0, 0));
            Err(SyntaxError {
                line,
                column,
                message: strip_location(&err.to_string()),
            })
        }
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Removes a trailing ` at line L, column C` (the diagnostic carries the location itself).
fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim_end();
    match first.rfind(" at line ") {
        Some(i)
            if first[i + 9..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == ' ' || c.is_ascii_lowercase()) =>
        {
            first[..i].to_owned()
        }
        _ => first.to_owned(),
    }
}

// === impl Deserialize for Node ===

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(deserializer)?;
        let loc = spanned.referenced;
        let span = loc.span();
        let span = match (span.byte_offset(), span.byte_len()) {
            (Some(off), Some(len)) => usize::try_from(off).ok().zip(usize::try_from(len).ok()),
            _ => None,
        };
        Ok(Node {
            kind: spanned.value,
            line: to_usize(loc.line()),
            column: to_usize(loc.column()),
            raw: None,
            interpolated: false,
            failed: false,
            span,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(KindVisitor)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Kind, E> {
        i128::try_from(v)
            .map(Kind::Int)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }

    fn visit_char<E>(self, v: char) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Kind, E> {
        Ok(Kind::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests;
