//! The crate's error type.

/// Why a request path was refused by [`normalize_path`](crate::normalize_path).
///
/// Every variant maps to `400 Bad Request`. The message is a short reason and never echoes the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/` (the `*` of `OPTIONS *` is handled by the caller).
    #[error("path does not start with '/'")]
    NotAbsolute,
    /// The path contains `%2F`: an encoded `/` would let a client smuggle a segment boundary.
    #[error("path contains an encoded '/'")]
    EncodedSlash,
    /// The path contains `%5C`: an encoded `\`, read as `/` by some origins.
    #[error("path contains an encoded '\\'")]
    EncodedBackslash,
    /// The path contains `%00`.
    #[error("path contains an encoded NUL")]
    EncodedNul,
    /// A `%` not followed by two hex digits (`%`, `%4`, `%zz`).
    #[error("path contains an invalid percent-escape")]
    InvalidEscape,
    /// The path contains a raw `\`.
    #[error("path contains a '\\'")]
    Backslash,
    /// The path contains a raw NUL or another control character (U+0000–U+001F, U+007F).
    #[error("path contains a control character")]
    ControlChar,
    /// The path contains `;` parameters (or `%3B`) and `server.paths.matrix_params` is `refuse`
    /// (`%3B` also when it is `strip`).
    #[error("path contains ';' parameters")]
    MatrixParams,
    /// A segment ends in `.` (other than the dot-segments `.` and `..`) and
    /// `server.paths.trailing_dots` is `refuse`.
    #[error("path segment ends with '.'")]
    TrailingDot,
    /// A segment starts or ends with whitespace or a control character, raw or encoded, and
    /// `server.paths.whitespace` is `refuse`.
    #[error("path segment starts or ends with whitespace")]
    Whitespace,
    /// `%25` followed by two hex digits or `u` and `server.paths.double_encoding` is `refuse`.
    #[error("path contains a double percent-encoding")]
    DoubleEncoding,
    /// An overlong UTF-8 sequence and `server.paths.overlong_utf8` is `refuse`.
    #[error("path contains an overlong UTF-8 sequence")]
    OverlongUtf8,
}

impl PathError {
    /// The reason as a static string (the same text as `Display`), for a `400` problem's detail.
    pub fn reason(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "path does not start with '/'",
            PathError::EncodedSlash => "path contains an encoded '/'",
            PathError::EncodedBackslash => "path contains an encoded '\\'",
            PathError::EncodedNul => "path contains an encoded NUL",
            PathError::InvalidEscape => "path contains an invalid percent-escape",
            PathError::Backslash => "path contains a '\\'",
            PathError::ControlChar => "path contains a control character",
            PathError::MatrixParams => "path contains ';' parameters",
            PathError::TrailingDot => "path segment ends with '.'",
            PathError::Whitespace => "path segment starts or ends with whitespace",
            PathError::DoubleEncoding => "path contains a double percent-encoding",
            PathError::OverlongUtf8 => "path contains an overlong UTF-8 sequence",
        }
    }
}

/// The crate's one error type: a refused request path or a route the table cannot be built with.
///
/// [`normalize_path`](crate::normalize_path) returns the narrower [`PathError`] (always a client
/// error); [`RouteTable::build`](crate::RouteTable::build) returns this type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A request path (or a path written in a route) failed normalization.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A route cannot be put in the table.
    #[error("route `{route}`: {reason}")]
    Route {
        /// The route's name.
        route: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Route`].
    pub(crate) fn route(route: &str, reason: impl Into<String>) -> Self {
        Error::Route {
            route: route.to_owned(),
            reason: reason.into(),
        }
    }
}
