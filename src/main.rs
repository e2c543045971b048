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
        Command::Serve(args) => {
            with_allocator_settings();
            Config::load(&args, &env).map(serve)
        }
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

/// mimalloc reads its options from the environment once, as the process starts, and by
/// default keeps freed memory for 10 ms before returning it: a dump's chunks, freed on
/// another thread than the one that filled them, then piled up to about 10 MiB more peak
/// memory (a 5M-row dump to S3: 65.7 MiB peak RSS against 55.1 MiB returning it at once).
/// So the server re-executes itself once (same process, arguments and descriptors) with
/// `MIMALLOC_PURGE_DELAY=0`, unless that variable is set already.
#[cfg(unix)]
fn with_allocator_settings() {
    use std::os::unix::process::CommandExt as _;
    const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(PURGE_DELAY).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(PURGE_DELAY, "0")
        .exec();
    // `exec` returns only when it failed: the server runs with the allocator's defaults.
    let _ = writeln!(
        std::io::stderr(),
        "starbase: warning: could not re-execute with {PURGE_DELAY}=0: {error}"
    );
}

#[cfg(not(unix))]
fn with_allocator_settings() {}

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
