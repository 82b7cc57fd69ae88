//! A real gRPC upstream (service `test.Echo`) and a client for it, written by
//! hand on top of tonic and prost (no protoc, no build script).
//!
//! The service, as it would read in a `.proto` file:
//!
//! ```proto
//! package test;
//! service Echo {
//!   rpc Say(EchoRequest) returns (EchoReply);
//!   rpc Count(CountRequest) returns (stream CountReply);
//! }
//! message EchoRequest  { string message = 1; }
//! message EchoReply    { string message = 1; repeated string seen_metadata = 2; }
//! message CountRequest { uint32 n = 1; }
//! message CountReply   { uint32 i = 1; }
//! ```
//!
//! `Say` echoes `message` and lists the request metadata it saw. Special messages:
//! - [`GRPC_FAIL`] (`"fail"`): fails with `NOT_FOUND` and message `fail`;
//! - `fail:{code}`: fails with that numeric gRPC code (e.g. `fail:14` → `UNAVAILABLE`);
//! - `sleep:{ms}`: waits `ms` milliseconds, then echoes (for deadline tests).
//!
//! `Count` streams `CountReply { i }` for `i` in `0..n`.
//!
//! Successful calls end with the trailers `grpc-status: 0` and [`GRPC_TRAILER`]
//! (`x-trailer: yes`); failed calls are trailers-only responses (the status is
//! in the response head), as tonic sends them.

mod client;
mod server;

pub use client::{grpc_count, grpc_say, grpc_say_with_metadata};
pub use server::spawn_grpc;

/// The message that makes `Say` fail with `NOT_FOUND`.
pub const GRPC_FAIL: &str = "fail";

/// The custom trailer (name, value) every successful call ends with.
pub const GRPC_TRAILER: (&str, &str) = ("x-trailer", "yes");

/// Path of the unary `Say` method.
pub const SAY_PATH: &str = "/test.Echo/Say";

/// Path of the server-streaming `Count` method.
pub const COUNT_PATH: &str = "/test.Echo/Count";

/// Request of `test.Echo/Say`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    /// The text to echo (or a special message, see the module docs).
    #[prost(string, tag = "1")]
    pub message: String,
}

/// Reply of `test.Echo/Say`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    /// The request's message.
    #[prost(string, tag = "1")]
    pub message: String,
    /// The request metadata the server saw, as sorted `name: value` lines
    /// (binary `-bin` values shown lossily).
    #[prost(string, repeated, tag = "2")]
    pub seen_metadata: Vec<String>,
}

/// Request of `test.Echo/Count`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CountRequest {
    /// How many replies to stream.
    #[prost(uint32, tag = "1")]
    pub n: u32,
}

/// One reply of the `test.Echo/Count` stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CountReply {
    /// Position in the stream, from 0.
    #[prost(uint32, tag = "1")]
    pub i: u32,
}
