//! Integration tests of `Cluster` against real local servers on 127.0.0.1:0.

mod support;

mod errors;
mod health;
mod protocols;
mod tls;
mod upgrade;
