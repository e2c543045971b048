//! Configuration: the effective settings of a gateway and how they are layered.
//!
//! Owns `Config`, the configuration file format, layering (built-in defaults → `starbase.toml`
//! → environment → command-line flags, later wins), validation, the generated admin token
//! and the masked rendering for `starbase check-config`. StarbaseDB's variable names
//! (`ADMIN_AUTHORIZATION_TOKEN`, `CLIENT_AUTHORIZATION_TOKEN`, `EXTERNAL_DB_*`) are honoured
//! as they are. The environment is passed in as a function, so nothing here reads or writes
//! the process env. External sources are settings only: nothing here connects to them. Must
//! not know about listeners or requests.

mod auth;
mod error;
mod file;
mod layers;
mod parse;
mod render;
mod secret;
mod source;
mod source_parse;
mod token;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::CliArgs;
use layers::{
    ADMIN_TOKEN, CLIENT_TOKEN, DATA_DIR, HTTP_LISTEN, IDLE_IN_TRANSACTION_TIMEOUT, LOG,
    MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MAX_RESPONSE_ROWS, PG_LISTEN, SQLITE_READERS,
    STATEMENT_TIMEOUT, Sources, TLS_CERT, TLS_KEY,
};
use layers::{
    ALLOW_HTTP_CALLBACKS, DUMP_BREATHING_INTERVAL, DUMP_CALLBACK_SECRET, DUMP_CHUNK_SIZE,
    DUMP_MAX_CONCURRENT, DUMP_NICE, DUMP_PART_BYTES, DUMP_URL, ENABLE_ALLOWLIST, ENABLE_RLS,
    MAX_EXECUTION_TIME,
};

pub use auth::{
    DEFAULT_JWKS_REFETCH_INTERVAL, DEFAULT_JWT_LEEWAY, JwtAlgorithm, JwtSettings, KeySource,
    RateLimit, RateLimits,
};
pub use error::{ConfigError, Origin};
pub use file::{FileConfig, FileValue};
pub use parse::MAX_SQLITE_READERS;
pub use secret::Secret;
pub use source::{EXTERNAL_SOURCE, INTERNAL_SOURCE, SourceConfig, SourceKind, SourceName};
pub use token::{ADMIN_TOKEN_FILE, ensure_admin_token};

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default HTTP address: the port `wrangler dev` uses, so local StarbaseDB scripts keep working.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8787";
/// Default PostgreSQL-wire address (5432 usually belongs to a real PostgreSQL).
pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5433";
/// Default maximum request body (10 MiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Default maximum HTTP query response body (32 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// Default maximum rows in one HTTP query response.
pub const DEFAULT_MAX_RESPONSE_ROWS: u64 = 100_000;
/// Default statement timeout.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of read-only SQLite connections.
pub const DEFAULT_SQLITE_READERS: usize = 4;
/// Default log filter.
pub const DEFAULT_LOG: &str = "info";

/// Tokens from StarbaseDB's README and `wrangler.toml`; anyone may know them.
const PUBLISHED_TOKENS: [&str; 2] = ["ABC123", "DEF456"];

/// The effective configuration of a gateway: every value resolved and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Directory holding the database file and the gateway's state.
    pub data_dir: PathBuf,
    /// HTTP API address.
    pub http_listen: SocketAddr,
    /// PostgreSQL-wire address.
    pub pg_listen: SocketAddr,
    /// Admin bearer token; when absent, [`ensure_admin_token`] provides one before serving.
    pub admin_token: Option<Secret>,
    /// Client bearer token; `None` means no client role.
    pub client_token: Option<Secret>,
    /// Maximum request body in bytes.
    pub max_request_bytes: usize,
    /// Maximum HTTP query response body in bytes.
    pub max_response_bytes: usize,
    /// Maximum rows in one HTTP query response.
    pub max_response_rows: u64,
    /// Statement timeout; `None` disables it.
    pub statement_timeout: Option<Duration>,
    /// Number of read-only SQLite connections (1 to [`MAX_SQLITE_READERS`]).
    pub sqlite_readers: usize,
    /// Log filter (`tracing_subscriber::EnvFilter` syntax), already checked.
    pub log: String,
    /// How long a pgwire session may stay idle inside a transaction before it is rolled back
    /// (`25P03` to its next statement); `None` disables it.
    pub idle_in_transaction_timeout: Option<Duration>,
    /// Certificate and key for TLS on both listeners; `None`: plain TCP (pgwire refuses
    /// SSLRequest with `N`).
    pub tls: Option<TlsFiles>,
    /// External data sources (PostgreSQL, MySQL/MariaDB), names unique and never `internal`.
    pub sources: Vec<SourceConfig>,
    /// Asynchronous dumps: storage, pacing, limits, callbacks.
    pub dump: DumpConfig,
    /// Client statements must match an allowlist entry (`ENABLE_ALLOWLIST`).
    pub enable_allowlist: bool,
    /// Row-level security policies apply to clients (`ENABLE_RLS`; off by default).
    pub enable_rls: bool,
    /// JWT verification; `None`: only the admin and client tokens authenticate.
    pub jwt: Option<JwtSettings>,
    /// Request and failed-login rate limits (all off by default).
    pub rate_limits: RateLimits,
}

/// Rows read per page of a dump, by default (StarbaseDB's `chunkSize`).
pub const DEFAULT_DUMP_CHUNK_SIZE: u64 = 1000;
/// A dump works this long before it pauses, by default (`MAX_EXECUTION_TIME`).
pub const DEFAULT_MAX_EXECUTION_TIME: Duration = Duration::from_secs(25);
/// A dump pauses this long after each slice, by default (`DUMP_BREATHING_INTERVAL`).
pub const DEFAULT_DUMP_BREATHING_INTERVAL: Duration = Duration::from_millis(500);
/// A dump part in a directory is closed once it holds this many bytes, by default.
pub const DEFAULT_DUMP_PART_BYTES: usize = 16 * 1024 * 1024;
/// A dump part on S3 is closed once it holds this many bytes, by default: it then fits in
/// one 5 MiB chunk and goes up in one PUT, which costs S3 servers far less than a multipart
/// upload (s3s-fs writes the parts and then joins them; `bench/dump.sh`, 1M rows: 0.93–0.98×
/// `sqlite3 .dump` against 1.35–1.42× with 16 MiB parts).
pub const DEFAULT_S3_DUMP_PART_BYTES: usize = 4 * 1024 * 1024;
/// Dumps running at once, by default.
pub const DEFAULT_DUMP_MAX_CONCURRENT: u64 = 2;
/// Nice value of the dump threads, by default: live queries get the CPU first.
pub const DEFAULT_DUMP_NICE: i32 = 19;

/// Where dumps go and how they are paced.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpConfig {
    /// `s3://bucket/prefix`, or `None` for the directory `<data_dir>/dumps`, or a directory.
    pub url: Option<String>,
    /// Rows per page.
    pub chunk_size: u64,
    /// Pause after each slice; zero: none.
    pub breathing_interval: Duration,
    /// Length of a slice of work between pauses.
    pub max_execution_time: Duration,
    /// A part is closed once it holds this many bytes (`None`: the storage's default,
    /// [`DEFAULT_DUMP_PART_BYTES`] in a directory, [`DEFAULT_S3_DUMP_PART_BYTES`] on S3).
    pub part_bytes: Option<usize>,
    /// Dumps running at once; one more is refused with 429.
    pub max_concurrent: u64,
    /// Nice value (0–19) of the threads dumps run on.
    pub nice: i32,
    /// `http://` callback URLs are accepted.
    pub allow_http_callbacks: bool,
    /// Key of the callbacks' HMAC-SHA256 signature; `None`: the admin token.
    pub callback_secret: Option<Secret>,
    /// S3 settings from the standard AWS variables.
    pub s3: S3Env,
}

/// The standard AWS variables, as the environment gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct S3Env {
    /// `AWS_ENDPOINT_URL` (any S3-compatible endpoint; path-style requests).
    pub endpoint: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<Secret>,
}

impl DumpConfig {
    /// The defaults: local storage under the data directory.
    #[must_use]
    pub fn defaults() -> Self {
        Self {
            url: None,
            chunk_size: DEFAULT_DUMP_CHUNK_SIZE,
            breathing_interval: DEFAULT_DUMP_BREATHING_INTERVAL,
            max_execution_time: DEFAULT_MAX_EXECUTION_TIME,
            part_bytes: None,
            max_concurrent: DEFAULT_DUMP_MAX_CONCURRENT,
            nice: DEFAULT_DUMP_NICE,
            allow_http_callbacks: false,
            callback_secret: None,
            s3: S3Env::default(),
        }
    }
}

/// PEM files for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Config {
    /// Resolves the configuration: built-in defaults, then the file named by `--config` or
    /// `STARBASE_CONFIG` (none named: no file), then the environment as seen through `env`,
    /// then the flags. Blank environment variables and blank tokens count as not set.
    ///
    /// `main` passes `|k| std::env::var(k).ok()`; tests pass a map, never the process env.
    ///
    /// # Errors
    /// `22023` for a bad value (naming the setting and the file, variable or flag it came
    /// from), for a bad data source (unknown type, bad URL, duplicate or reserved name;
    /// naming the source and the field) and for an invalid file (naming it, the line and any unknown key); `58030` when
    /// a named file cannot be read.
    pub fn load(
        cli: &CliArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let src = Sources::gather(cli, env)?;
        let config = Config {
            data_dir: data_dir(cli, &src)?,
            http_listen: src.parse(&HTTP_LISTEN, DEFAULT_HTTP_LISTEN, parse::addr)?,
            pg_listen: src.parse(&PG_LISTEN, DEFAULT_PG_LISTEN, parse::addr)?,
            admin_token: src.secret(&ADMIN_TOKEN),
            client_token: src.secret(&CLIENT_TOKEN),
            max_request_bytes: src.parse(
                &MAX_REQUEST_BYTES,
                &DEFAULT_MAX_REQUEST_BYTES.to_string(),
                parse::size,
            )?,
            max_response_bytes: src.parse(
                &MAX_RESPONSE_BYTES,
                &DEFAULT_MAX_RESPONSE_BYTES.to_string(),
                parse::size,
            )?,
            max_response_rows: src.parse(
                &MAX_RESPONSE_ROWS,
                &DEFAULT_MAX_RESPONSE_ROWS.to_string(),
                parse::count,
            )?,
            statement_timeout: src.parse(&STATEMENT_TIMEOUT, "30s", parse::duration)?,
            sqlite_readers: src.parse(
                &SQLITE_READERS,
                &DEFAULT_SQLITE_READERS.to_string(),
                parse::readers,
            )?,
            log: src.parse(&LOG, DEFAULT_LOG, parse::log_filter)?,
            idle_in_transaction_timeout: src.parse(
                &IDLE_IN_TRANSACTION_TIMEOUT,
                "60s",
                parse::duration,
            )?,
            tls: tls_files(&src)?,
            sources: source::gather(&src)?,
            dump: dump_config(&src)?,
            enable_allowlist: src.parse(&ENABLE_ALLOWLIST, "false", parse::boolean)?,
            enable_rls: src.parse(&ENABLE_RLS, "false", parse::boolean)?,
            jwt: auth::jwt(&src)?,
            rate_limits: auth::rate_limits(&src)?,
        };
        config.check_combinations(&src)?;
        Ok(config)
    }

    /// Rules that involve two settings; reported against the one that came second.
    fn check_combinations(&self, src: &Sources<'_>) -> Result<(), ConfigError> {
        if self.http_listen == self.pg_listen && self.pg_listen.port() != 0 {
            return Err(ConfigError::Invalid {
                setting: PG_LISTEN.key,
                origin: src.origin(&PG_LISTEN),
                reason: format!("{} is also the HTTP address", self.pg_listen),
            });
        }
        if let (Some(admin), Some(client)) = (&self.admin_token, &self.client_token)
            && admin == client
        {
            return Err(ConfigError::Invalid {
                setting: CLIENT_TOKEN.key,
                origin: src.origin(&CLIENT_TOKEN),
                reason: "the client token equals the admin token, which would give clients \
                         admin rights"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Defaults with `data_dir`, both listeners on `127.0.0.1:0`, two readers and no tokens;
    /// for tests, which build their configuration in code.
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
            log: DEFAULT_LOG.to_owned(),
            idle_in_transaction_timeout: Some(Duration::from_secs(60)),
            tls: None,
            sources: Vec::new(),
            dump: DumpConfig::defaults(),
            enable_allowlist: false,
            enable_rls: false,
            jwt: None,
            rate_limits: RateLimits::default(),
        }
    }

    /// Legal but unwise settings, one sentence each, for the caller to log once logging is up
    /// (a token StarbaseDB publishes in its README, for instance).
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        [("admin", &self.admin_token), ("client", &self.client_token)]
            .into_iter()
            .filter_map(|(role, token)| {
                let token = token.as_ref()?.expose();
                PUBLISHED_TOKENS.contains(&token).then(|| {
                    format!(
                        "the {role} token is StarbaseDB's published example \"{token}\"; \
                         anyone can use it, set a secret one"
                    )
                })
            })
            .collect()
    }

    /// The effective configuration as TOML, secrets shown as `"***"` and absent ones as a
    /// `(not set)` comment; what `starbase check-config` prints.
    #[must_use]
    pub fn render_masked(&self) -> String {
        render::masked(self)
    }
}

/// The dump settings and the AWS variables.
fn dump_config(src: &Sources<'_>) -> Result<DumpConfig, ConfigError> {
    let d = DumpConfig::defaults();
    let ms = |v: Duration| v.as_millis().to_string();
    let pause = |text: &str| parse::millis(text);
    Ok(DumpConfig {
        url: src.optional(&DUMP_URL, |t| Ok(t.trim().to_owned()))?,
        chunk_size: src.parse(&DUMP_CHUNK_SIZE, &d.chunk_size.to_string(), parse::count)?,
        breathing_interval: src.parse(
            &DUMP_BREATHING_INTERVAL,
            &ms(d.breathing_interval),
            pause,
        )?,
        max_execution_time: src.parse(&MAX_EXECUTION_TIME, &ms(d.max_execution_time), pause)?,
        part_bytes: src.optional(&DUMP_PART_BYTES, parse::size)?,
        max_concurrent: src.parse(
            &DUMP_MAX_CONCURRENT,
            &d.max_concurrent.to_string(),
            parse::count,
        )?,
        nice: src.parse(&DUMP_NICE, &d.nice.to_string(), parse::nice)?,
        allow_http_callbacks: src.parse(&ALLOW_HTTP_CALLBACKS, "false", parse::boolean)?,
        callback_secret: src.secret(&DUMP_CALLBACK_SECRET),
        s3: S3Env {
            endpoint: src.env_var(AWS_ENV[0]).or_else(|| src.env_var(AWS_ENV[1])),
            region: src.env_var(AWS_ENV[2]).or_else(|| src.env_var(AWS_ENV[3])),
            access_key_id: src.env_var(AWS_ENV[4]),
            secret_access_key: src.env_var(AWS_ENV[5]).map(Secret::new),
            session_token: src.env_var(AWS_ENV[6]).map(Secret::new),
        },
    })
}

/// The standard AWS variables the S3 dump storage reads, in the order `S3Env` uses them.
const AWS_ENV: [&str; 7] = [
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Every environment variable the gateway reads (settings, the configuration file, the
/// `external` source, S3 storage); what deployment files may set.
#[must_use]
pub fn environment_variables() -> Vec<&'static str> {
    layers::ALL
        .iter()
        .flat_map(|s| s.env.iter().copied())
        .chain(std::iter::once(layers::CONFIG_ENV))
        .chain(source::env_names())
        .chain(AWS_ENV)
        .collect()
}

/// `tls_cert` and `tls_key` go together.
fn tls_files(src: &Sources<'_>) -> Result<Option<TlsFiles>, ConfigError> {
    let cert = src.optional(&TLS_CERT, parse::path)?;
    let key = src.optional(&TLS_KEY, parse::path)?;
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::Invalid {
            setting: TLS_CERT.key,
            origin: src.origin(&TLS_CERT),
            reason: "tls_key is not set; TLS needs both a certificate and a key".to_owned(),
        }),
        (None, Some(_)) => Err(ConfigError::Invalid {
            setting: TLS_KEY.key,
            origin: src.origin(&TLS_KEY),
            reason: "tls_cert is not set; TLS needs both a certificate and a key".to_owned(),
        }),
    }
}

/// `--data-dir` is taken as a path (it need not be UTF-8); other layers go through the parser.
fn data_dir(cli: &CliArgs, src: &Sources<'_>) -> Result<PathBuf, ConfigError> {
    match &cli.data_dir {
        Some(dir) if dir.as_os_str().is_empty() => Err(ConfigError::Invalid {
            setting: DATA_DIR.key,
            origin: Origin::Flag(DATA_DIR.flag),
            reason: "the path is empty".to_owned(),
        }),
        Some(dir) => Ok(dir.clone()),
        None => src.parse(&DATA_DIR, DEFAULT_DATA_DIR, parse::path),
    }
}

#[cfg(test)]
mod compose_tests;
#[cfg(test)]
mod source_tests;
#[cfg(test)]
mod tests;
