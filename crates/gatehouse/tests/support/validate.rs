//! `gatehouse validate` on a configuration text, for tests of refused settings.

/// Writes `yaml` to a scratch `gatehouse.yaml`, runs `gatehouse validate` on it, asserts that it
/// is refused (exit code 1) and returns its error output.
pub fn refused(yaml: &str) -> String {
    let path = gatehouse_testkit::gateway::scratch_dir().join("gatehouse.yaml");
    std::fs::write(&path, yaml).expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("run gatehouse validate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    stderr
}

/// The first line of `output` containing `needle` (panics with the output when there is none).
pub fn line_with(output: &str, needle: &str) -> String {
    output
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{output}"))
        .to_owned()
}
