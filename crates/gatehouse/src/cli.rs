//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Gatehouse, an API gateway.
#[derive(Debug, clap::Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the gateway.
    Run {
        /// Configuration file or directory of `*.yaml` files.
        #[arg(short, long)]
        config: PathBuf,
        /// Also serve the built-in echo upstream (answers with the request as JSON) on this address.
        #[arg(long, value_name = "ADDR")]
        echo: Option<SocketAddr>,
    },
    /// Check a configuration: lists every error with file, line and column; exit 1 on any.
    Validate {
        /// Configuration file or directory.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Print the lower-case hex SHA-256 of an API key, the form `consumers[].api_keys[].sha256`
    /// and Redis key names use.
    HashKey {
        /// The key; read from standard input when absent (one trailing line ending removed).
        key: Option<String>,
    },
    /// Live per-route rates and latencies from a running gateway's admin API.
    Top {
        /// The admin listener's address.
        #[arg(long, default_value = "127.0.0.1:9901", value_name = "ADDR")]
        admin: SocketAddr,
        /// Admin bearer token (or `GATEHOUSE_ADMIN_TOKEN`).
        #[arg(long)]
        token: Option<String>,
        /// Refresh interval (`500ms`, `2s`).
        #[arg(long, default_value = "2s", value_parser = crate::top::parse_interval)]
        interval: std::time::Duration,
        /// Print one view (two samples an interval apart) and exit.
        #[arg(long)]
        once: bool,
    },
    /// Print the version.
    Version,
}
