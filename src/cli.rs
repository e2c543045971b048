//! Command-line interface: `starbase serve` and `starbase check-config`.
//!
//! Owns the flags. Every flag is optional here so that configuration layering (defaults →
//! file → env → flags) happens in one place, `config::Config::load`. Must not read the env.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// StarbaseDB-compatible HTTP SQLite database and PostgreSQL-wire gateway.
#[derive(Debug, Parser)]
#[command(name = "starbase", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(CliArgs),
    /// Validate the configuration and print it with secrets masked.
    CheckConfig(CliArgs),
}

/// Flags shared by every subcommand; each also exists as a `STARBASE_*` variable and a key in
/// the configuration file.
#[derive(Debug, Clone, Default, Args)]
pub struct CliArgs {
    /// Configuration file (TOML) [env: STARBASE_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the database and the gateway's state [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP API address [default: 127.0.0.1:8787].
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// PostgreSQL-wire address [default: 127.0.0.1:5433].
    #[arg(long, value_name = "ADDR")]
    pub pg_listen: Option<String>,
    /// Admin bearer token [env: STARBASE_ADMIN_TOKEN, ADMIN_AUTHORIZATION_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Client bearer token [env: STARBASE_CLIENT_TOKEN, CLIENT_AUTHORIZATION_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub client_token: Option<String>,
    /// Largest accepted request body, e.g. `10MiB` [default: 10MiB].
    #[arg(long, value_name = "SIZE")]
    pub max_request_bytes: Option<String>,
    /// Largest HTTP query response body [default: 32MiB].
    #[arg(long, value_name = "SIZE")]
    pub max_response_bytes: Option<String>,
    /// Most rows in one HTTP query response [default: 100000].
    #[arg(long, value_name = "N")]
    pub max_response_rows: Option<String>,
    /// Statement timeout, e.g. `30s`; `0` disables [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub statement_timeout: Option<String>,
    /// Number of read-only SQLite connections [default: 4].
    #[arg(long, value_name = "N")]
    pub sqlite_readers: Option<String>,
    /// Log filter, e.g. `info` or `starbase=debug` [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
}
