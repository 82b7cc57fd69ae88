//! The plugin crate's error type.

/// Result of a plugin hook.
pub type Result<T> = std::result::Result<T, Error>;

/// A plugin failed, or a chain could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A plugin hook failed while handling a request; answered with 500 and logged.
    #[error("plugin `{plugin}` failed: {message}")]
    Internal {
        /// Plugin name.
        plugin: &'static str,
        /// What went wrong (logged, never sent to the client).
        message: String,
    },
    /// A plugin could not be built from its settings.
    #[error("plugin `{plugin}` cannot be built: {message}")]
    Build {
        /// Plugin name.
        plugin: &'static str,
        /// What is wrong.
        message: String,
    },
}
