//! The configuration file (`starbase.toml`): its keys and how it is read.
//!
//! Owns `FileConfig` (every key optional, unknown keys rejected) and turning TOML errors into
//! `ConfigError`s that name the file, the line and the key without quoting the file's text (it
//! may hold a token). Must not know defaults, the environment or the flags.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::{ConfigError, Secret};

/// The contents of `starbase.toml`. Every key is optional; an unknown key is an error naming it.
/// Keys and meanings match the command-line flags (`max_request_bytes` ↔ `--max-request-bytes`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Directory holding the database file and the gateway's state.
    pub data_dir: Option<PathBuf>,
    /// HTTP API address, `IP:port`.
    pub http_listen: Option<String>,
    /// PostgreSQL-wire address, `IP:port`.
    pub pg_listen: Option<String>,
    /// Admin bearer token; an empty string counts as not set.
    pub admin_token: Option<Secret>,
    /// Client bearer token; an empty string counts as not set.
    pub client_token: Option<Secret>,
    /// Largest request body: `"10MiB"`, `"512KiB"` or a number of bytes.
    pub max_request_bytes: Option<FileValue>,
    /// Largest HTTP query response body, as for `max_request_bytes`.
    pub max_response_bytes: Option<FileValue>,
    /// Most rows in one HTTP query response.
    pub max_response_rows: Option<FileValue>,
    /// Statement timeout: `"30s"`, `"1m 30s"`; `"0"` or `0` disables it.
    pub statement_timeout: Option<FileValue>,
    /// Number of read-only SQLite connections.
    pub sqlite_readers: Option<FileValue>,
    /// Log filter (`"info"`, `"starbase=debug,info"`).
    pub log: Option<String>,
    /// How long a pgwire session may sit in an open transaction: `"60s"`; `"0"` disables.
    pub idle_in_transaction_timeout: Option<FileValue>,
    /// PEM certificate chain for TLS on both listeners (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS on both listeners (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// Where dumps are stored: `s3://bucket/prefix` or a directory (default `<data_dir>/dumps`).
    pub dump_url: Option<String>,
    /// Rows read per page of a dump (`DUMP_CHUNK_SIZE`).
    pub dump_chunk_size: Option<FileValue>,
    /// Pause after each time slice of a dump (`DUMP_BREATHING_INTERVAL`; a bare number is ms).
    pub dump_breathing_interval: Option<FileValue>,
    /// Length of a dump's time slice (`MAX_EXECUTION_TIME`; a bare number is ms).
    pub max_execution_time: Option<FileValue>,
    /// Size at which a dump part is closed (`"16MiB"`).
    pub dump_part_bytes: Option<FileValue>,
    /// Dumps running at once; more get 429.
    pub dump_max_concurrent: Option<FileValue>,
    /// Nice value of the dump threads (0–19).
    pub dump_nice: Option<FileValue>,
    /// Allow `http://` dump callbacks (`true`/`false`).
    pub allow_http_callbacks: Option<FileValue>,
    /// Key of the callbacks' HMAC-SHA256 signature (default: the admin token).
    pub dump_callback_secret: Option<Secret>,
    /// Check client statements against the allowlist (`ENABLE_ALLOWLIST`).
    pub enable_allowlist: Option<FileValue>,
    /// Enforce row-level security policies on clients (`ENABLE_RLS`).
    pub enable_rls: Option<FileValue>,
    /// JWT signature algorithm: `RS256` (default), `ES256`, `EdDSA` or `HS256`.
    pub auth_algorithm: Option<String>,
    /// JSON Web Key Set: an `http(s)://` URL or a file path; turns JWT auth on.
    pub auth_jwks_endpoint: Option<String>,
    /// HMAC secret for HS256 tokens (at least 32 bytes); turns JWT auth on.
    pub auth_jwt_secret: Option<Secret>,
    /// Required `iss` claim.
    pub auth_jwt_issuer: Option<String>,
    /// Required `aud` claim.
    pub auth_jwt_audience: Option<String>,
    /// Clock skew tolerated on `exp`/`nbf` (`"30s"`).
    pub jwt_leeway: Option<FileValue>,
    /// Shortest time between key set fetches caused by unknown `kid`s (`"30s"`).
    pub jwks_refetch_interval: Option<FileValue>,
    /// Requests per credential: `"100/s"`, `"6000/m burst 200"`, `"off"`.
    pub rate_limit_per_token: Option<String>,
    /// Requests per client address, as `rate_limit_per_token`.
    pub rate_limit_per_addr: Option<String>,
    /// Failed authentication attempts per client address, as `rate_limit_per_token`.
    pub rate_limit_auth_failures: Option<String>,
    /// External data sources (`[[sources]]` tables).
    pub sources: Option<Vec<FileSource>>,
}

/// One `[[sources]]` table: an external PostgreSQL or MySQL/MariaDB database. Either `url`
/// or the separate connection fields (`type`, `host`, `port`, `user`, `password`,
/// `database`); pool and TLS settings go with both.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// The name requests use (`X-Starbase-Source`, `?source=`).
    pub name: Option<String>,
    /// `postgresql` or `mysql`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `postgres://user:pass@host:port/db?sslmode=…` or `mysql://…`; may hold a password.
    pub url: Option<Secret>,
    /// Host name or IP address.
    pub host: Option<String>,
    /// TCP port (default 5432 or 3306).
    pub port: Option<FileValue>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// Database.
    pub database: Option<String>,
    /// PostgreSQL only: the `search_path` every connection starts with.
    pub search_path: Option<String>,
    /// Connections opened at most.
    pub pool_size: Option<FileValue>,
    /// How long opening one connection may take (`"5s"`).
    pub connect_timeout: Option<FileValue>,
    /// How long a request waits for a free pooled connection before `53300` (`"5s"`).
    pub acquire_timeout: Option<FileValue>,
    /// Whether the wire proxy pipelines lone autocommit statements (PostgreSQL).
    pub pipeline: Option<FileValue>,
    /// `disable`, `prefer` or `require`.
    pub tls: Option<String>,
}

/// A file value that may be written as a string or as an integer (`max_request_bytes =
/// "10MiB"` or `max_request_bytes = 10485760`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileValue {
    /// An integer.
    Integer(i64),
    /// A string.
    Text(String),
}

impl FileValue {
    /// The value as text, as it would be written in an environment variable or a flag.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            FileValue::Integer(i) => i.to_string(),
            FileValue::Text(s) => s.clone(),
        }
    }
}

/// Hand-written so a wrong type gets a useful message ("expected a string or an integer")
/// instead of serde's opaque one for untagged enums.
impl<'de> Deserialize<'de> for FileValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FileValueVisitor;

        impl Visitor<'_> for FileValueVisitor {
            type Value = FileValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileValue, E> {
                Ok(FileValue::Integer(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileValue, E> {
                Ok(i64::try_from(v)
                    .map_or_else(|_| FileValue::Text(v.to_string()), FileValue::Integer))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FileValue, E> {
                Ok(FileValue::Text(v.to_string()))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileValue, E> {
                Ok(FileValue::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(FileValueVisitor)
    }
}

impl FileConfig {
    /// Parses the text of a configuration file.
    ///
    /// # Errors
    /// `22023` for invalid TOML, an unknown key or a wrongly typed value; the message names
    /// `path` and the line, and for an unknown key the key itself.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            line: e.span().map(|span| line_of(text, span.start)),
            // `message()` rather than `Display`: the latter quotes the offending line, which
            // may be a token.
            reason: e.message().to_owned(),
        })
    }

    /// Reads and parses the configuration file at `path`.
    ///
    /// # Errors
    /// `58030` when the file cannot be read (a file named explicitly must exist), otherwise
    /// as [`FileConfig::parse`].
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            context: "could not read configuration file",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }
}

/// 1-based line number of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        FileConfig::parse(text, Path::new("/etc/starbase.toml"))
    }

    #[test]
    fn strings_and_integers() {
        let f = parse("max_request_bytes = \"10MiB\"\nmax_response_bytes = 1024\n").unwrap();
        assert_eq!(f.max_request_bytes, Some(FileValue::Text("10MiB".into())));
        assert_eq!(f.max_response_bytes, Some(FileValue::Integer(1024)));
        assert_eq!(parse("").unwrap(), FileConfig::default());
    }

    #[test]
    fn unknown_key_names_key_file_and_line() {
        let e = parse("log = \"info\"\n\nhttp_lisen = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http_lisen"), "{e}");
        assert!(e.contains("/etc/starbase.toml"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn wrong_types_are_explained_without_echoing_tokens() {
        let e = parse("sqlite_readers = 1.5\n").unwrap_err().to_string();
        assert!(e.contains("a string or an integer"), "{e}");
        let e = parse("admin_token = 987654321\n").unwrap_err().to_string();
        assert!(
            e.contains("quoted string") && !e.contains("987654321"),
            "{e}"
        );
        let e = parse("admin_token = \"s3cret\" x\n")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
