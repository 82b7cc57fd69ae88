//! Test upstreams for Gatehouse's end-to-end tests, written in Rust.
//!
//! Every `spawn_*` function binds `127.0.0.1:0`, serves in background tasks of
//! the current Tokio runtime and returns an [`Upstream`]: its address, a count of
//! requests (`hits`) and of TCP connections accepted. Dropping the [`Upstream`]
//! stops the server and drops its open connections.
//!
//! | upstream | behaviour |
//! | --- | --- |
//! | [`spawn_echo`] | HTTP/1.1 + h2c; JSON description of the request; `/status/{code}`, `/big/{n}`, `/headers?set=n:v`, `/slow-body/{ms}` |
//! | [`spawn_h2_echo`] | the echo, h2c prior knowledge only |
//! | [`spawn_slow`] | the echo, after a delay before the response head |
//! | [`spawn_failing`] | always the given status |
//! | [`spawn_faulty`] | one [`Fault`] per request (refuse, resets, hang, slow, 5xx burst, short body); counts attempts and open connections |
//! | [`spawn_reset_mid_body`] | announces 1000 bytes, sends 100, resets the connection |
//! | [`spawn_flaky_health`] | the echo, with `/healthz` switchable at runtime |
//! | [`spawn_grpc`] | tonic gRPC service `test.Echo` (unary + server streaming, trailers) |
//! | [`spawn_websocket_echo`] | WebSocket echo |
//!
//! Clients: [`grpc_say`], [`grpc_count`], [`ws_roundtrip`]. For tests that need
//! an external program: [`require_server`]. For the `gatehouse` binary itself:
//! [`process::GatehouseProcess`]. A real `redis-server`: [`redis::spawn_redis`]. An OTLP trace
//! receiver (gRPC and HTTP): [`otlp::spawn_otlp`].
//! Helpers backed by independent CLI tools: [`keys::sha256_hex_via_cli`] (`sha256sum`),
//! [`certs`] (`openssl`), [`raw::curl_as_is`] (`curl`); raw-response readers in [`raw`]; shared
//! config YAML in [`yaml`].
//!
//! Panics (e.g. failing to bind a port) are deliberate: this crate is for tests.

pub mod certs;
mod echo;
mod failing;
mod faulty;
pub mod gateway;
pub mod grpc;
mod health;
pub mod keys;
pub mod otlp;
pub mod process;
pub mod raw;
pub mod redis;
mod require;
mod reset;
mod slow;
mod upstream;
mod websocket;
pub mod yaml;

pub use echo::{BIG_CHUNK, spawn_echo, spawn_h2_echo};
pub use failing::spawn_failing;
pub use faulty::{
    FAULTY_ANNOUNCED_LEN, FAULTY_OK_BODY, FAULTY_SENT_LEN, Fault, Faulty, in_flight,
    settle_in_flight, spawn_faulty,
};
pub use grpc::{GRPC_FAIL, GRPC_TRAILER, grpc_count, grpc_say, grpc_say_with_metadata, spawn_grpc};
pub use health::{HEALTH_PATH, HealthSwitch, spawn_flaky_health};
pub use require::{REQUIRE_SERVERS_ENV, require_python_modules, require_server};
pub use reset::{RESET_ANNOUNCED_LEN, RESET_SENT_LEN, spawn_reset_mid_body};
pub use slow::spawn_slow;
pub use upstream::{BoxError, ResponseBody, Upstream, free_port};
pub use websocket::{WS_REQUEST_PROBE, spawn_websocket_echo, ws_roundtrip};
