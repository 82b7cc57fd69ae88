//! `gatehouse`: the API gateway binary.

mod cli;
mod run;
mod top;
mod watch;

use std::process::ExitCode;

use clap::Parser;

/// jemalloc instead of the system allocator. glibc keeps memory freed by many threads in its
/// arenas: after a burst (thousands of HTTP/2 streams) the resident set stayed tens of MiB above
/// idle for good. jemalloc, built with a background purging thread and one-second decay
/// (`JEMALLOC_SYS_WITH_MALLOC_CONF` in `.cargo/config.toml`), returns it within seconds, even
/// while the gateway is idle.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        cli::Command::Version => {
            println!("gatehouse {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        cli::Command::Validate { config } => validate(&config),
        cli::Command::HashKey { key } => hash_key(key),
        cli::Command::Top {
            admin,
            token,
            interval,
            once,
        } => match top::run(&top::TopOptions {
            admin,
            token: token.or_else(|| std::env::var("GATEHOUSE_ADMIN_TOKEN").ok()),
            interval,
            once,
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatehouse: {e:#}");
                ExitCode::FAILURE
            }
        },
        cli::Command::Run { config, echo } => match run::run(&config, echo) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatehouse: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `gatehouse hash-key [KEY]`: the key from the argument or from standard input.
fn hash_key(key: Option<String>) -> ExitCode {
    let key = match key {
        Some(key) => key,
        None => {
            let mut input = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut input) {
                eprintln!("gatehouse: cannot read the key from standard input: {e}");
                return ExitCode::FAILURE;
            }
            let trimmed = input
                .strip_suffix('\n')
                .map_or(input.as_str(), |s| s.strip_suffix('\r').unwrap_or(s));
            trimmed.to_owned()
        }
    };
    if key.is_empty() {
        eprintln!("gatehouse: empty key");
        return ExitCode::FAILURE;
    }
    println!("{}", gatehouse_plugins::builtin::key_auth::hash_key(&key));
    ExitCode::SUCCESS
}

/// `gatehouse validate`: every problem listed, exit 1 when there is any.
fn validate(path: &std::path::Path) -> ExitCode {
    match gatehouse_config::load(path) {
        Ok(config) => {
            println!(
                "{}: valid ({} listener(s), {} upstream(s), {} route(s), {} global plugin(s))",
                path.display(),
                config.listeners.len(),
                config.upstreams.len(),
                config.routes.len(),
                config.plugins.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}
