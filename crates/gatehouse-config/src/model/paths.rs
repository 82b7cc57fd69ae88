//! Request path policy (`server.paths`): spellings that back-ends may read as another path.

/// What the gateway does with request paths that a back-end may read differently from the router
/// (`server.paths`). Every default is the secure one: refuse with `400`.
///
/// The checks run on each path segment after percent-decoding of unreserved characters, before
/// routing; the path a route matched is the path forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathPolicy {
    /// `;` parameters in path segments (`/admin;jsessionid=1`, `/a/..;/admin`). Default refuse.
    pub matrix_params: MatrixParams,
    /// A segment ending in `.` other than the dot-segments `.` and `..` (`/admin.`, `/a../x`),
    /// which Windows/IIS drop. Default refuse.
    pub trailing_dots: PathRule,
    /// Whitespace or a control character, raw or percent-encoded (`%20`, `%09`, `%C2%A0`, …), at the
    /// start or end of a segment (`/admin%20`, `/%09admin`), which some back-ends trim. Default
    /// refuse.
    pub whitespace: PathRule,
    /// `%25` followed by two hex digits or `u` (`%252e`, `%252f`, `%255c`, `%2525`, `%25u002e`):
    /// a second decoding by the back-end would produce another character. Default refuse.
    pub double_encoding: PathRule,
    /// Overlong UTF-8 sequences (`%C0%AE` for `.`, `%C0%AF` for `/`, `%E0%80%AE`), which old
    /// decoders read as the ASCII character. Default refuse.
    pub overlong_utf8: PathRule,
}

impl PathPolicy {
    /// Every rule refuses; `;` parameters are refused too. The default.
    pub const STRICT: PathPolicy = PathPolicy {
        matrix_params: MatrixParams::Refuse,
        trailing_dots: PathRule::Refuse,
        whitespace: PathRule::Refuse,
        double_encoding: PathRule::Refuse,
        overlong_utf8: PathRule::Refuse,
    };

    /// Every rule allows: only the base normalization (escapes, `//`, dot-segments) applies.
    pub const LENIENT: PathPolicy = PathPolicy {
        matrix_params: MatrixParams::Allow,
        trailing_dots: PathRule::Allow,
        whitespace: PathRule::Allow,
        double_encoding: PathRule::Allow,
        overlong_utf8: PathRule::Allow,
    };
}

/// `server.paths.matrix_params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatrixParams {
    /// A raw `;` (or `%3B`) anywhere in the path is a `400`. The default.
    #[default]
    Refuse,
    /// Every segment loses its `;…` part before matching (`/a;x/b;y=1` → `/a/b`, `/a/..;/b` → `/b`),
    /// and the stripped path is the one forwarded; `%3B` is a `400`.
    Strip,
    /// `;` is an ordinary character (`/admin;x` is not under `/admin`).
    Allow,
}

/// A path rule that either refuses (`400`) or allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathRule {
    /// The request is answered `400`. The default.
    #[default]
    Refuse,
    /// The path is routed as it is.
    Allow,
}
