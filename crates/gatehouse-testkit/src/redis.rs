//! A real `redis-server` on a free loopback port, for the API-key tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, require_server};

/// How long [`spawn_redis`] and [`RedisServer::restart`] wait for `PING` to be answered.
const READY_LIMIT: Duration = Duration::from_secs(10);

/// A `redis-server --port <port> --save "" --appendonly no` child process on 127.0.0.1, killed
/// (and reaped) when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

/// Starts a `redis-server` on a free port and waits until it answers `PING`. `None` (after
/// printing `SKIPPED`) when `redis-server` is not installed, unless `GATEHOUSE_REQUIRE_SERVERS=1`,
/// which panics instead (see [`require_server`]).
pub fn spawn_redis() -> Option<RedisServer> {
    if !require_server("redis-server") {
        return None;
    }
    let mut server = RedisServer {
        port: free_port(),
        child: None,
    };
    server.start();
    Some(server)
}

impl RedisServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (data is lost: nothing is persisted). Connections are refused afterwards.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, then starts a fresh, empty one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    fn start(&mut self) {
        let child = redis_command("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + READY_LIMIT;
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within {READY_LIMIT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A command for one of Redis's programs (`redis-server`, `redis-cli`). Under libfaketime (the
/// suite run with the clock moved ahead, see `.ci/run`) they hang: their allocator recurses into
/// the faked `clock_gettime`. So they keep the real clock; the tests choose periods that end in
/// the future by both clocks.
pub fn redis_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    if std::env::var("LD_PRELOAD").is_ok_and(|p| p.contains("faketime")) {
        cmd.env_remove("LD_PRELOAD");
    }
    cmd
}
