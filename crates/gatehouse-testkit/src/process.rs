//! A `gatehouse run` child process for the binary's end-to-end tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long [`GatehouseProcess::wait_listening`] waits for the listener.
const LISTEN_LIMIT: Duration = Duration::from_secs(10);

/// A `gatehouse run --config …` child process, killed (and reaped) when dropped, so a
/// failing test does not leave it running.
pub struct GatehouseProcess {
    child: Mutex<Child>,
    log: PathBuf,
}

impl GatehouseProcess {
    /// Starts `bin run --config config`, with stdout and stderr written to
    /// `log_dir/gatehouse.log`.
    pub fn spawn(bin: &Path, config: &Path, log_dir: &Path) -> Self {
        let log = log_dir.join("gatehouse.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(file)
            .spawn()
            .expect("spawn gatehouse run");
        GatehouseProcess {
            child: Mutex::new(child),
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// What the process has written so far (empty if the log cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (a `kill` argument such as `-TERM` or `-HUP`) with the `kill` command;
    /// panics if `kill` fails.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// Waits until the process accepts connections on `addr`; panics if it exits first or
    /// does not listen within 10 seconds.
    pub async fn wait_listening(&self, addr: SocketAddr) {
        let deadline = Instant::now() + LISTEN_LIMIT;
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return;
            }
            if let Some(status) = self.try_wait() {
                panic!("gatehouse exited early ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "gatehouse not listening on {addr}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits up to `limit` for the process to exit and returns its status; panics if it is
    /// still running then.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gatehouse still running after {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn try_wait(&self) -> Option<ExitStatus> {
        self.child().try_wait().expect("try_wait")
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for GatehouseProcess {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}
