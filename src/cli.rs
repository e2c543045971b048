//! Command-line interface: `starbase serve` and `starbase check-config`.
//!
//! Owns the subcommands and their flags. Every flag is an `Option` with no clap default, so
//! that layering (defaults → file → env → flags) happens in one place, `Config::load`, which
//! also parses and validates the values. Must not read the environment or know the defaults.

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
    /// Validate the configuration, print it with secrets masked, and exit.
    CheckConfig(CliArgs),
    /// Dump a running server's database (`POST /export/dump`) with a progress bar, and
    /// download it; `dump status <key>` prints a dump's status.
    Dump(DumpArgs),
}

impl Command {
    /// The gateway flags given to `serve` or `check-config`.
    #[must_use]
    pub fn args(&self) -> Option<&CliArgs> {
        match self {
            Command::Serve(args) | Command::CheckConfig(args) => Some(args),
            Command::Dump(_) => None,
        }
    }
}

/// `starbase dump`: a client of a running server.
#[derive(Debug, Clone, Args)]
pub struct DumpArgs {
    /// `status <key>`: print a dump's status and exit.
    #[command(subcommand)]
    pub action: Option<DumpAction>,
    /// The server [default: http://127.0.0.1:8787]
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,
    /// Bearer token [env: STARBASE_ADMIN_TOKEN, ADMIN_AUTHORIZATION_TOKEN]
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
    /// `sql`, `csv` or `json` [default: sql]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Where to write the finished dump: a file, or `s3://bucket/key` (AWS_* variables)
    #[arg(long, value_name = "FILE|S3_URL")]
    pub to: Option<String>,
    /// The data source (`X-Starbase-Source`) [default: internal]
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Only this table (repeatable)
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
}

/// `starbase dump` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum DumpAction {
    /// Print a dump's status as JSON; exit 1 when it failed.
    Status {
        /// The progress key.
        key: String,
    },
}

/// Flags shared by every subcommand. Each also exists as a `STARBASE_*` variable and as a key
/// in the configuration file; a flag wins over both.
#[derive(Debug, Clone, Default, Args)]
pub struct CliArgs {
    /// Configuration file (TOML) [env: STARBASE_CONFIG]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the database and the gateway's state [default: ./data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP API address [default: 127.0.0.1:8787]
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// PostgreSQL-wire address [default: 127.0.0.1:5433]
    #[arg(long, value_name = "ADDR")]
    pub pg_listen: Option<String>,
    /// Admin bearer token; prefer the environment, flags show in `ps` [env:
    /// STARBASE_ADMIN_TOKEN, ADMIN_AUTHORIZATION_TOKEN] [default: generated into DIR/admin_token]
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Client bearer token; prefer the environment, flags show in `ps` [env:
    /// STARBASE_CLIENT_TOKEN, CLIENT_AUTHORIZATION_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    pub client_token: Option<String>,
    /// Largest accepted request body, e.g. `10MiB`, `512KiB`, `1048576` [default: 10MiB]
    #[arg(long, value_name = "SIZE")]
    pub max_request_bytes: Option<String>,
    /// Largest HTTP query response body [default: 32MiB]
    #[arg(long, value_name = "SIZE")]
    pub max_response_bytes: Option<String>,
    /// Most rows in one HTTP query response [default: 100000]
    #[arg(long, value_name = "N")]
    pub max_response_rows: Option<String>,
    /// Statement timeout, e.g. `30s`, `500ms`; `0` disables [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub statement_timeout: Option<String>,
    /// Number of read-only SQLite connections [default: 4]
    #[arg(long, value_name = "N")]
    pub sqlite_readers: Option<String>,
    /// Log filter, e.g. `info` or `starbase=debug,info` [default: info]
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// Roll back a pgwire session's transaction (releasing the writer) after this long
    /// without a statement; `0` disables [env: STARBASE_IDLE_IN_TRANSACTION_TIMEOUT]
    /// [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub idle_in_transaction_timeout: Option<String>,
    /// PEM certificate chain: TLS on the PostgreSQL-wire listener (SSLRequest) and HTTPS on
    /// the HTTP one; needs --tls-key [env: STARBASE_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// PEM private key for --tls-cert [env: STARBASE_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<String>,
    /// Where dumps are stored: `s3://bucket/prefix` or a directory [env: STARBASE_DUMP_URL]
    /// [default: DIR/dumps]
    #[arg(long, value_name = "URL")]
    pub dump_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn both_subcommands_take_every_flag() {
        for sub in ["serve", "check-config"] {
            let cli = Cli::try_parse_from([
                "starbase",
                sub,
                "--config",
                "s.toml",
                "--data-dir",
                "/d",
                "--http-listen",
                "0.0.0.0:1",
                "--pg-listen",
                "0.0.0.0:2",
                "--admin-token",
                "a",
                "--client-token",
                "c",
                "--max-request-bytes",
                "1MiB",
                "--max-response-bytes",
                "2MiB",
                "--max-response-rows",
                "3",
                "--statement-timeout",
                "4s",
                "--sqlite-readers",
                "5",
                "--log",
                "debug",
            ])
            .unwrap();
            let a = cli.command.args().unwrap();
            assert_eq!(a.config, Some(PathBuf::from("s.toml")));
            assert_eq!(a.data_dir, Some(PathBuf::from("/d")));
            assert_eq!(a.http_listen.as_deref(), Some("0.0.0.0:1"));
            assert_eq!(a.admin_token.as_deref(), Some("a"));
            assert_eq!(a.max_response_rows.as_deref(), Some("3"));
            assert_eq!(a.statement_timeout.as_deref(), Some("4s"));
            assert_eq!(a.log.as_deref(), Some("debug"));
        }
        let cli = Cli::try_parse_from(["starbase", "check-config"]).unwrap();
        assert!(matches!(cli.command, Command::CheckConfig(_)));
        assert!(
            cli.command.args().unwrap().http_listen.is_none(),
            "no clap defaults"
        );
        assert!(Cli::try_parse_from(["starbase", "serve", "--bogus"]).is_err());
        assert!(Cli::try_parse_from(["starbase"]).is_err());
    }
}
