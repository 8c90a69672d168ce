//! The `geoagent` binary: parse flags, set up logging, run, print the error chain.

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = geoagent::cli::Cli::parse();
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = geoagent::cli::log_filter(cli.verbose, rust_log.as_deref());
    if let Some(note) = &filter.note {
        eprintln!("{note}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(&filter.directives))
        .with_writer(std::io::stderr)
        .init();
    match geoagent::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // The chain can quote values from outside (a file's field, a server's answer).
            eprintln!("{}", geoagent::text::screen(&format!("error: {e:#}")));
            ExitCode::FAILURE
        }
    }
}
