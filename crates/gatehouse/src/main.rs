//! `gatehouse`: the API gateway binary.

mod cli;
mod run;
mod top;
mod watch;

use std::process::ExitCode;

use clap::Parser;

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
