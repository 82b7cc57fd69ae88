//! Certificates for TLS tests, made by an independent tool (the `openssl` CLI), and a bounded
//! runner for external programs.
//!
//! Every key is EC P-256; files are written into the given directory (e.g. a
//! [`scratch_dir`](crate::gateway::scratch_dir)).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` with stdin closed and stdout/stderr captured, killing it after 15 s; returns its
/// output.
///
/// Panics if the program cannot be started or hangs (the panic shows its stdout and stderr).
pub async fn run_bounded(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                return child.wait_with_output().expect("output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{shown} hung:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .expect("blocking task")
}

/// Runs `openssl {args}` in `dir` (bounded by [`run_bounded`]) and asserts that it succeeds.
pub async fn openssl(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args(args);
    let out = run_bounded(cmd).await;
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA certificate `{stem}.pem` with its key `{stem}.key` in `dir`: subject
/// `subject` (e.g. `/CN=Test CA`), valid for `days` days, `basicConstraints=critical,CA:TRUE`,
/// `keyUsage=critical,keyCertSign,cRLSign`.
pub async fn make_self_signed_ca(dir: &Path, stem: &str, days: &str, subject: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{stem}.key"),
            "-out",
            &format!("{stem}.pem"),
            "-days",
            days,
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
    .await;
}

/// A new key `{stem}.key` and a certificate signing request `{stem}.csr` with subject `/CN={cn}`,
/// in `dir`.
pub async fn make_key_and_csr(dir: &Path, stem: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{stem}.key"),
            "-out",
            &format!("{stem}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    )
    .await;
}
