//! Skipping tests that need an external program.

use std::path::Path;

/// Environment variable that turns a missing external program into a test failure.
pub const REQUIRE_SERVERS_ENV: &str = "GATEHOUSE_REQUIRE_SERVERS";

/// Tells whether the external program `name` (e.g. `curl`, `nginx`,
/// `redis-server`) is on `PATH`.
///
/// If it is missing: panics with `required server {name} missing` when
/// `GATEHOUSE_REQUIRE_SERVERS=1` (CI), otherwise prints
/// `SKIPPED: {test} ({name} not installed)` to stderr and returns `false`, so a
/// test reads `if !require_server("curl") { return; }`.
pub fn require_server(name: &str) -> bool {
    if on_path(name) {
        return true;
    }
    if std::env::var(REQUIRE_SERVERS_ENV).as_deref() == Ok("1") {
        panic!("required server {name} missing ({REQUIRE_SERVERS_ENV}=1)");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    eprintln!("SKIPPED: {test} ({name} not installed)");
    false
}

/// Whether an executable file called `name` is in one of the `PATH` directories.
fn on_path(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name)))
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(file: &Path) -> bool {
    file.is_file() || file.with_extension("exe").is_file()
}

/// Tells whether `python3` can import every module in `modules` (e.g. `["h2"]` for the Python
/// `h2` package, an HTTP/2 implementation independent of ours).
///
/// Missing python3 or a missing module: panics when `GATEHOUSE_REQUIRE_SERVERS=1` (CI), otherwise
/// prints `SKIPPED: {test} (python3 modules … not installed)` to stderr and returns `false`.
pub fn require_python_modules(modules: &[&str]) -> bool {
    if !require_server("python3") {
        return false;
    }
    let probe = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if probe.is_ok_and(|s| s.success()) {
        return true;
    }
    let list = modules.join(", ");
    if std::env::var(REQUIRE_SERVERS_ENV).as_deref() == Ok("1") {
        panic!("required python3 modules {list} missing ({REQUIRE_SERVERS_ENV}=1)");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    eprintln!("SKIPPED: {test} (python3 modules {list} not installed)");
    false
}
