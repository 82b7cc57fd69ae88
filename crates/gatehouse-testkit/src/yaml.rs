//! Fragments of gateway configuration YAML shared by the end-to-end tests.

/// The start of a gateway configuration: one listener `public` on `127.0.0.1:0`, the admin API
/// disabled and no config-file watching. Ends with a newline, so top-level keys can follow it.
pub const PUBLIC_LISTENER_NO_ADMIN: &str = "listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  enabled: false
server:
  watch: false
";
