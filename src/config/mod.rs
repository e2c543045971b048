//! Configuration: the effective settings of a gateway and how they are layered.
//!
//! Owns `Config`, the configuration file format, layering (built-in defaults → `starbase.toml`
//! → environment → command-line flags, later wins) and validation. StarbaseDB's variable names
//! (`ADMIN_AUTHORIZATION_TOKEN`, `CLIENT_AUTHORIZATION_TOKEN`) are honoured as they are. The
//! environment is passed in as a function, so nothing here reads or writes the process env.
//! Must not know about listeners, requests or databases.

mod parse;
mod render;
mod secret;
mod token;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use starbase_protocol::SqlState;

use crate::cli::CliArgs;
pub use secret::Secret;
pub use token::{ADMIN_TOKEN_FILE, ensure_admin_token};

/// Default HTTP address: the port `wrangler dev` uses, so local StarbaseDB scripts keep working.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8787";
/// Default PostgreSQL-wire address (5432 usually belongs to a real PostgreSQL).
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5433";
/// Default maximum request body.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Default maximum HTTP query response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Default maximum rows in one HTTP query response.
pub const DEFAULT_MAX_RESPONSE_ROWS: u64 = 100_000;
/// Default statement timeout.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of read-only SQLite connections.
pub const DEFAULT_SQLITE_READERS: usize = 4;

/// The effective configuration of a gateway.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the database file and the gateway's state.
    pub data_dir: PathBuf,
    /// HTTP API address.
    pub http_listen: SocketAddr,
    /// PostgreSQL-wire address.
    pub pg_listen: SocketAddr,
    /// Admin bearer token; generated on first start when absent (`ensure_admin_token`).
    pub admin_token: Option<Secret>,
    /// Client bearer token.
    pub client_token: Option<Secret>,
    /// Maximum request body in bytes.
    pub max_request_bytes: usize,
    /// Maximum HTTP query response body in bytes.
    pub max_response_bytes: usize,
    /// Maximum rows in one HTTP query response.
    pub max_response_rows: u64,
    /// Statement timeout; `None` disables it.
    pub statement_timeout: Option<Duration>,
    /// Number of read-only SQLite connections.
    pub sqlite_readers: usize,
    /// Log filter (`tracing_subscriber::EnvFilter` syntax).
    pub log: String,
}

/// A configuration problem, naming the setting and where its value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid {setting} from {origin}: {reason}")]
    Invalid {
        /// The setting's file key.
        setting: &'static str,
        /// Where the value came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration file that is not valid (syntax, unknown key, wrong type).
    #[error("invalid configuration file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the unknown key).
        reason: String,
    },
    /// A file that cannot be read or written.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// `22023` for bad values and files, `58030` for I/O failures.
    #[must_use]
    pub fn sqlstate(&self) -> SqlState {
        match self {
            ConfigError::Invalid { .. } | ConfigError::File { .. } => {
                SqlState::INVALID_PARAMETER_VALUE
            }
            ConfigError::Io { .. } => SqlState::IO_ERROR,
        }
    }
}

/// A value in the file: sizes and counts may be written as strings or integers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FileValue {
    Int(i64),
    Str(String),
}

impl FileValue {
    fn into_text(self) -> String {
        match self {
            FileValue::Int(i) => i.to_string(),
            FileValue::Str(s) => s,
        }
    }
}

/// The configuration file (`starbase.toml`); every key is optional, unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    http_listen: Option<String>,
    pg_listen: Option<String>,
    admin_token: Option<String>,
    client_token: Option<String>,
    max_request_bytes: Option<FileValue>,
    max_response_bytes: Option<FileValue>,
    max_response_rows: Option<FileValue>,
    statement_timeout: Option<FileValue>,
    sqlite_readers: Option<FileValue>,
    log: Option<String>,
}

impl Config {
    /// Resolves the configuration from the file, the environment (`env`) and the flags.
    ///
    /// # Errors
    /// `ConfigError` naming the setting and its origin, the unknown file key, or the
    /// unreadable file.
    pub fn load(
        cli: &CliArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let file_path = cli
            .config
            .clone()
            .or_else(|| env("STARBASE_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let from_file = |key: &str| match &file_path {
            Some(p) => format!("{} (key \"{key}\")", p.display()),
            None => "the configuration file".to_owned(),
        };
        let r = Resolver {
            env: &env,
            from_file: &from_file,
        };
        let text = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let data_dir = r
            .pick(
                "data_dir",
                file.data_dir.map(|p| p.display().to_string()),
                &["STARBASE_DATA_DIR"],
                cli.data_dir.as_ref().map(|p| p.display().to_string()),
                "--data-dir",
            )
            .map_or_else(|| PathBuf::from("./data"), |(v, _)| PathBuf::from(v));
        let http_listen = r.parse(
            "http_listen",
            text(file.http_listen),
            &["STARBASE_HTTP_LISTEN"],
            cli.http_listen.clone(),
            "--http-listen",
            DEFAULT_HTTP_LISTEN,
            parse::addr,
        )?;
        let pg_listen = r.parse(
            "pg_listen",
            text(file.pg_listen),
            &["STARBASE_PG_LISTEN"],
            cli.pg_listen.clone(),
            "--pg-listen",
            DEFAULT_PG_LISTEN,
            parse::addr,
        )?;
        let secret =
            |file_value: Option<String>, names: &[&str], flag: Option<String>, flag_name| {
                r.pick("token", text(file_value), names, text(flag), flag_name)
                    .map(|(v, _)| Secret::new(v.trim().to_owned()))
            };
        let admin_token = secret(
            file.admin_token,
            &["STARBASE_ADMIN_TOKEN", "ADMIN_AUTHORIZATION_TOKEN"],
            cli.admin_token.clone(),
            "--admin-token",
        );
        let client_token = secret(
            file.client_token,
            &["STARBASE_CLIENT_TOKEN", "CLIENT_AUTHORIZATION_TOKEN"],
            cli.client_token.clone(),
            "--client-token",
        );
        let max_request_bytes = r.parse(
            "max_request_bytes",
            file.max_request_bytes.map(FileValue::into_text),
            &["STARBASE_MAX_REQUEST_BYTES"],
            cli.max_request_bytes.clone(),
            "--max-request-bytes",
            "10MiB",
            parse::size,
        )?;
        let max_response_bytes = r.parse(
            "max_response_bytes",
            file.max_response_bytes.map(FileValue::into_text),
            &["STARBASE_MAX_RESPONSE_BYTES"],
            cli.max_response_bytes.clone(),
            "--max-response-bytes",
            "32MiB",
            parse::size,
        )?;
        let max_response_rows = r.parse(
            "max_response_rows",
            file.max_response_rows.map(FileValue::into_text),
            &["STARBASE_MAX_RESPONSE_ROWS"],
            cli.max_response_rows.clone(),
            "--max-response-rows",
            "100000",
            parse::count,
        )?;
        let statement_timeout = r.parse(
            "statement_timeout",
            file.statement_timeout.map(FileValue::into_text),
            &["STARBASE_STATEMENT_TIMEOUT"],
            cli.statement_timeout.clone(),
            "--statement-timeout",
            "30s",
            parse::duration,
        )?;
        let sqlite_readers = r.parse(
            "sqlite_readers",
            file.sqlite_readers.map(FileValue::into_text),
            &["STARBASE_SQLITE_READERS"],
            cli.sqlite_readers.clone(),
            "--sqlite-readers",
            "4",
            |t| parse::count(t).and_then(|n| usize::try_from(n).map_err(|e| e.to_string())),
        )?;
        let log = r
            .pick(
                "log",
                text(file.log),
                &["STARBASE_LOG"],
                text(cli.log.clone()),
                "--log",
            )
            .map_or_else(|| "info".to_owned(), |(v, _)| v);
        Ok(Config {
            data_dir,
            http_listen,
            pg_listen,
            admin_token,
            client_token,
            max_request_bytes,
            max_response_bytes,
            max_response_rows,
            statement_timeout,
            sqlite_readers,
            log,
        })
    }

    /// Defaults with `data_dir`, both listeners on `127.0.0.1:0` and no tokens; for tests,
    /// which build their configuration in code.
    #[must_use]
    pub fn for_tests(data_dir: &Path) -> Config {
        let loopback_any = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            data_dir: data_dir.to_path_buf(),
            http_listen: loopback_any,
            pg_listen: loopback_any,
            admin_token: None,
            client_token: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_response_rows: DEFAULT_MAX_RESPONSE_ROWS,
            statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
            sqlite_readers: 2,
            log: "info".to_owned(),
        }
    }

    /// The effective configuration as TOML with secrets masked, for `starbase check-config`.
    #[must_use]
    pub fn render_masked(&self) -> String {
        render::masked(self)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        context: "cannot read configuration file",
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        reason: e.message().to_owned(),
    })
}

/// Picks a setting's raw value from the layers, later winning.
struct Resolver<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    from_file: &'a dyn Fn(&str) -> String,
}

impl Resolver<'_> {
    /// The winning raw value and its origin: flag, then the env names in order, then the file.
    fn pick(
        &self,
        key: &str,
        file: Option<String>,
        env_names: &[&str],
        flag: Option<String>,
        flag_name: &str,
    ) -> Option<(String, String)> {
        if let Some(v) = flag {
            return Some((v, format!("flag {flag_name}")));
        }
        for name in env_names {
            if let Some(v) = (self.env)(name) {
                return Some((v, format!("environment variable {name}")));
            }
        }
        file.map(|v| (v, (self.from_file)(key)))
    }

    /// Picks and parses a setting, falling back to its default text.
    #[allow(clippy::too_many_arguments)]
    fn parse<T>(
        &self,
        key: &'static str,
        file: Option<String>,
        env_names: &[&str],
        flag: Option<String>,
        flag_name: &str,
        default: &str,
        parser: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (text, origin) = self
            .pick(key, file, env_names, flag, flag_name)
            .unwrap_or_else(|| (default.to_owned(), "the default".to_owned()));
        parser(&text).map_err(|reason| ConfigError::Invalid {
            setting: key,
            origin,
            reason,
        })
    }
}

#[cfg(test)]
mod tests;
