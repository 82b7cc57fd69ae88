//! API-key hashing for tests, done by an independent tool (the coreutils `sha256sum` CLI), never
//! by the gateway's own code.

use std::io::Write;
use std::process::{Command, Stdio};

/// `printf %s KEY | sha256sum`, the hex part: the SHA-256 of `key` as 64 lowercase hex digits,
/// computed by the `sha256sum` command-line tool.
///
/// Panics if `sha256sum` cannot be run or fails.
pub fn sha256_hex_via_cli(key: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(key.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}
