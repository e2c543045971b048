//! Logging: a `tracing` subscriber writing to stderr, filtered by the `log` setting. A
//! closed stderr loses the log lines, never the server.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a bad filter falls back to `info` with a warning.
pub fn init(filter: &str) {
    let (env_filter, bad) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e)),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written (the reader of stderr went away) is dropped.
        // Reporting it would go to the same stderr through `eprintln!`, which panics there
        // and took the whole server down.
        .log_internal_errors(false)
        .try_init();
    if let Some(e) = bad {
        tracing::warn!(filter, error = %e, "invalid log filter; using info");
    }
}
