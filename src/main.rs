//! The `starbase` binary: parse the command line, set up logging, run the gateway.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use starbase::cli::{Cli, Command};
use starbase::config::{Config, ensure_admin_token};

/// Many small allocations cross threads (rows, JSON buffers); mimalloc handles that far
/// better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    let result = match cli.command {
        Command::CheckConfig(args) => Config::load(&args, &env).map(|config| {
            for warning in config.warnings() {
                let _ = writeln!(std::io::stderr(), "starbase: warning: {warning}");
            }
            let _ = std::io::stdout().write_all(config.render_masked().as_bytes());
        }),
        Command::Serve(args) => Config::load(&args, &env).map(serve),
        Command::Dump(args) => {
            return match starbase::dump_client::run_blocking(args, &env) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "starbase dump: {e}");
                    ExitCode::from(1)
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "starbase: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(mut config: Config) {
    starbase::telemetry::init(&config.log);
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    match ensure_admin_token(&mut config) {
        Ok(Some(token)) => {
            // Printed once, on the start that generated it; later starts read the file.
            let _ = writeln!(
                std::io::stderr(),
                "starbase: generated admin token (stored in {}): {token}",
                config
                    .data_dir
                    .join(starbase::config::ADMIN_TOKEN_FILE)
                    .display()
            );
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "cannot provision the admin token");
            std::process::exit(1);
        }
    }
    if let Err(e) = starbase::run_blocking(config) {
        tracing::error!(error = %e, "starbase failed");
        std::process::exit(1);
    }
}
