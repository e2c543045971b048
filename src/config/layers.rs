//! Layering: for each setting, the value that wins (flag, then environment, then file) and
//! where it came from.
//!
//! Owns the table of settings (file key, environment variable names, flag) and the rule for
//! blank values. Must not know how values are parsed or what they mean.

use std::collections::HashMap;
use std::path::PathBuf;

use super::file::{FileConfig, FileSource, FileValue};
use super::{ConfigError, Origin, Secret};
use crate::cli::CliArgs;

/// How a setting treats blank (empty or all-space) values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blank {
    /// Blank counts as not set in every layer; the value is trimmed (tokens).
    Unset,
    /// Blank counts as not set in the environment (compose files often set `VAR=`), but is
    /// handed to the parser, and refused there, when it comes from the file or a flag.
    Parse,
}

/// One setting: its file key, its environment variables (first set one wins) and its flag.
#[derive(Debug)]
pub(super) struct Setting {
    pub(super) key: &'static str,
    pub(super) env: &'static [&'static str],
    pub(super) flag: &'static str,
    pub(super) blank: Blank,
}

/// Every setting, for listing the environment variables the gateway reads.
pub(super) const ALL: [&Setting; 35] = [
    &DATA_DIR,
    &HTTP_LISTEN,
    &PG_LISTEN,
    &ADMIN_TOKEN,
    &CLIENT_TOKEN,
    &MAX_REQUEST_BYTES,
    &MAX_RESPONSE_BYTES,
    &MAX_RESPONSE_ROWS,
    &STATEMENT_TIMEOUT,
    &SQLITE_READERS,
    &LOG,
    &IDLE_IN_TRANSACTION_TIMEOUT,
    &TLS_CERT,
    &TLS_KEY,
    &DUMP_URL,
    &DUMP_CHUNK_SIZE,
    &DUMP_BREATHING_INTERVAL,
    &MAX_EXECUTION_TIME,
    &DUMP_PART_BYTES,
    &DUMP_MAX_CONCURRENT,
    &DUMP_NICE,
    &ALLOW_HTTP_CALLBACKS,
    &DUMP_CALLBACK_SECRET,
    &ENABLE_ALLOWLIST,
    &ENABLE_RLS,
    &AUTH_ALGORITHM,
    &AUTH_JWKS_ENDPOINT,
    &AUTH_JWT_SECRET,
    &AUTH_JWT_ISSUER,
    &AUTH_JWT_AUDIENCE,
    &JWT_LEEWAY,
    &JWKS_REFETCH_INTERVAL,
    &RATE_LIMIT_PER_TOKEN,
    &RATE_LIMIT_PER_ADDR,
    &RATE_LIMIT_AUTH_FAILURES,
];

const fn setting(key: &'static str, env: &'static [&'static str], flag: &'static str) -> Setting {
    Setting {
        key,
        env,
        flag,
        blank: Blank::Parse,
    }
}

/// Variable naming the configuration file, like `--config`.
pub(super) const CONFIG_ENV: &str = "STARBASE_CONFIG";

pub(super) const DATA_DIR: Setting = setting("data_dir", &["STARBASE_DATA_DIR"], "--data-dir");
pub(super) const HTTP_LISTEN: Setting =
    setting("http_listen", &["STARBASE_HTTP_LISTEN"], "--http-listen");
pub(super) const PG_LISTEN: Setting = setting("pg_listen", &["STARBASE_PG_LISTEN"], "--pg-listen");
/// StarbaseDB's own variable comes second so ours wins when both are set.
pub(super) const ADMIN_TOKEN: Setting = Setting {
    key: "admin_token",
    env: &["STARBASE_ADMIN_TOKEN", "ADMIN_AUTHORIZATION_TOKEN"],
    flag: "--admin-token",
    blank: Blank::Unset,
};
pub(super) const CLIENT_TOKEN: Setting = Setting {
    key: "client_token",
    env: &["STARBASE_CLIENT_TOKEN", "CLIENT_AUTHORIZATION_TOKEN"],
    flag: "--client-token",
    blank: Blank::Unset,
};
pub(super) const MAX_REQUEST_BYTES: Setting = setting(
    "max_request_bytes",
    &["STARBASE_MAX_REQUEST_BYTES"],
    "--max-request-bytes",
);
pub(super) const MAX_RESPONSE_BYTES: Setting = setting(
    "max_response_bytes",
    &["STARBASE_MAX_RESPONSE_BYTES"],
    "--max-response-bytes",
);
pub(super) const MAX_RESPONSE_ROWS: Setting = setting(
    "max_response_rows",
    &["STARBASE_MAX_RESPONSE_ROWS"],
    "--max-response-rows",
);
pub(super) const STATEMENT_TIMEOUT: Setting = setting(
    "statement_timeout",
    &["STARBASE_STATEMENT_TIMEOUT"],
    "--statement-timeout",
);
pub(super) const SQLITE_READERS: Setting = setting(
    "sqlite_readers",
    &["STARBASE_SQLITE_READERS"],
    "--sqlite-readers",
);
pub(super) const LOG: Setting = setting("log", &["STARBASE_LOG"], "--log");
pub(super) const IDLE_IN_TRANSACTION_TIMEOUT: Setting = setting(
    "idle_in_transaction_timeout",
    &["STARBASE_IDLE_IN_TRANSACTION_TIMEOUT"],
    "--idle-in-transaction-timeout",
);
pub(super) const TLS_CERT: Setting = setting("tls_cert", &["STARBASE_TLS_CERT"], "--tls-cert");
pub(super) const TLS_KEY: Setting = setting("tls_key", &["STARBASE_TLS_KEY"], "--tls-key");
pub(super) const DUMP_URL: Setting = setting("dump_url", &["STARBASE_DUMP_URL"], "--dump-url");
pub(super) const DUMP_CHUNK_SIZE: Setting = setting(
    "dump_chunk_size",
    &["STARBASE_DUMP_CHUNK_SIZE", "DUMP_CHUNK_SIZE"],
    "",
);
pub(super) const DUMP_BREATHING_INTERVAL: Setting = setting(
    "dump_breathing_interval",
    &[
        "STARBASE_DUMP_BREATHING_INTERVAL",
        "DUMP_BREATHING_INTERVAL",
    ],
    "",
);
pub(super) const MAX_EXECUTION_TIME: Setting = setting(
    "max_execution_time",
    &["STARBASE_MAX_EXECUTION_TIME", "MAX_EXECUTION_TIME"],
    "",
);
pub(super) const DUMP_PART_BYTES: Setting =
    setting("dump_part_bytes", &["STARBASE_DUMP_PART_BYTES"], "");
pub(super) const DUMP_MAX_CONCURRENT: Setting =
    setting("dump_max_concurrent", &["STARBASE_DUMP_MAX_CONCURRENT"], "");
pub(super) const DUMP_NICE: Setting = setting("dump_nice", &["STARBASE_DUMP_NICE"], "");
pub(super) const ALLOW_HTTP_CALLBACKS: Setting = setting(
    "allow_http_callbacks",
    &["STARBASE_ALLOW_HTTP_CALLBACKS"],
    "",
);
pub(super) const DUMP_CALLBACK_SECRET: Setting = Setting {
    key: "dump_callback_secret",
    env: &["STARBASE_DUMP_CALLBACK_SECRET"],
    flag: "",
    blank: Blank::Unset,
};

/// StarbaseDB's variables, honoured as they are.
pub(super) const ENABLE_ALLOWLIST: Setting = setting(
    "enable_allowlist",
    &["STARBASE_ENABLE_ALLOWLIST", "ENABLE_ALLOWLIST"],
    "",
);
pub(super) const ENABLE_RLS: Setting =
    setting("enable_rls", &["STARBASE_ENABLE_RLS", "ENABLE_RLS"], "");
/// StarbaseDB's JWT variables keep their names.
pub(super) const AUTH_ALGORITHM: Setting = setting("auth_algorithm", &["AUTH_ALGORITHM"], "");
pub(super) const AUTH_JWKS_ENDPOINT: Setting =
    setting("auth_jwks_endpoint", &["AUTH_JWKS_ENDPOINT"], "");
pub(super) const AUTH_JWT_SECRET: Setting = Setting {
    key: "auth_jwt_secret",
    env: &["AUTH_JWT_SECRET"],
    flag: "",
    blank: Blank::Unset,
};
pub(super) const AUTH_JWT_ISSUER: Setting = setting("auth_jwt_issuer", &["AUTH_JWT_ISSUER"], "");
pub(super) const AUTH_JWT_AUDIENCE: Setting =
    setting("auth_jwt_audience", &["AUTH_JWT_AUDIENCE"], "");
pub(super) const JWT_LEEWAY: Setting = setting("jwt_leeway", &["STARBASE_JWT_LEEWAY"], "");
pub(super) const JWKS_REFETCH_INTERVAL: Setting = setting(
    "jwks_refetch_interval",
    &["STARBASE_JWKS_REFETCH_INTERVAL"],
    "",
);
pub(super) const RATE_LIMIT_PER_TOKEN: Setting = setting(
    "rate_limit_per_token",
    &["STARBASE_RATE_LIMIT_PER_TOKEN"],
    "",
);
pub(super) const RATE_LIMIT_PER_ADDR: Setting =
    setting("rate_limit_per_addr", &["STARBASE_RATE_LIMIT_PER_ADDR"], "");
pub(super) const RATE_LIMIT_AUTH_FAILURES: Setting = setting(
    "rate_limit_auth_failures",
    &["STARBASE_RATE_LIMIT_AUTH_FAILURES"],
    "",
);

/// The three layers above the defaults, ready to be asked for one setting at a time.
pub(super) struct Sources<'a> {
    flags: HashMap<&'static str, String>,
    env: &'a dyn Fn(&str) -> Option<String>,
    file: HashMap<&'static str, String>,
    file_path: PathBuf,
    file_sources: Vec<FileSource>,
}

impl<'a> Sources<'a> {
    /// Collects the layers: reads the file named by `--config` or `STARBASE_CONFIG`, if any.
    pub(super) fn gather(
        cli: &CliArgs,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let named = cli.config.clone().or_else(|| {
            env(CONFIG_ENV)
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from)
        });
        let (file, file_path, file_sources) = match named {
            Some(path) => {
                let mut f = FileConfig::read(&path)?;
                let sources = f.sources.take().unwrap_or_default();
                (file_layer(f), path, sources)
            }
            None => (HashMap::new(), PathBuf::new(), Vec::new()),
        };
        Ok(Self {
            flags: flag_layer(cli),
            env,
            file,
            file_path,
            file_sources,
        })
    }

    /// The file's `[[sources]]` tables, in order.
    pub(super) fn file_sources(&self) -> &[FileSource] {
        &self.file_sources
    }

    /// Where the file's values come from.
    pub(super) fn file_origin(&self) -> Origin {
        Origin::File(self.file_path.clone())
    }

    /// An environment variable; blank counts as not set.
    pub(super) fn env_var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    /// The winning raw value of `s` and its origin, or `None` when no layer sets it.
    pub(super) fn lookup(&self, s: &Setting) -> Option<(String, Origin)> {
        let usable = |v: &String| !(v.trim().is_empty() && s.blank == Blank::Unset);
        let trim = |v: String| match s.blank {
            Blank::Unset => v.trim().to_owned(),
            Blank::Parse => v,
        };
        if let Some(v) = self.flags.get(s.key).filter(|v| usable(v)) {
            return Some((trim(v.clone()), Origin::Flag(s.flag)));
        }
        for name in s.env {
            // Blank variables never count: `environment: [ADMIN_AUTHORIZATION_TOKEN=]`.
            if let Some(v) = (self.env)(name).filter(|v| !v.trim().is_empty()) {
                return Some((trim(v), Origin::Env(name)));
            }
        }
        let v = self.file.get(s.key).filter(|v| usable(v))?;
        Some((trim(v.clone()), Origin::File(self.file_path.clone())))
    }

    /// Where the winning value of `s` came from.
    pub(super) fn origin(&self, s: &Setting) -> Origin {
        self.lookup(s).map_or(Origin::Default, |(_, origin)| origin)
    }

    /// Parses the winning value of `s`, or `default` (text, parsed the same way) when unset.
    pub(super) fn parse<T>(
        &self,
        s: &Setting,
        default: &str,
        parser: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (text, origin) = self
            .lookup(s)
            .unwrap_or_else(|| (default.to_owned(), Origin::Default));
        parser(&text).map_err(|reason| ConfigError::Invalid {
            setting: s.key,
            origin,
            reason,
        })
    }

    /// The winning value of an optional setting, parsed; `None` when no layer sets it.
    pub(super) fn optional<T>(
        &self,
        s: &Setting,
        parser: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((text, origin)) = self.lookup(s) else {
            return Ok(None);
        };
        parser(&text)
            .map(Some)
            .map_err(|reason| ConfigError::Invalid {
                setting: s.key,
                origin,
                reason,
            })
    }

    /// The winning value of a secret setting; blank counts as not set.
    pub(super) fn secret(&self, s: &Setting) -> Option<Secret> {
        self.lookup(s).map(|(v, _)| Secret::new(v))
    }
}

fn flag_layer(cli: &CliArgs) -> HashMap<&'static str, String> {
    // `--data-dir` is not here: a path need not be UTF-8, so `Config::load` takes it directly.
    [
        (&HTTP_LISTEN, &cli.http_listen),
        (&PG_LISTEN, &cli.pg_listen),
        (&ADMIN_TOKEN, &cli.admin_token),
        (&CLIENT_TOKEN, &cli.client_token),
        (&MAX_REQUEST_BYTES, &cli.max_request_bytes),
        (&MAX_RESPONSE_BYTES, &cli.max_response_bytes),
        (&MAX_RESPONSE_ROWS, &cli.max_response_rows),
        (&STATEMENT_TIMEOUT, &cli.statement_timeout),
        (&SQLITE_READERS, &cli.sqlite_readers),
        (&LOG, &cli.log),
        (
            &IDLE_IN_TRANSACTION_TIMEOUT,
            &cli.idle_in_transaction_timeout,
        ),
        (&TLS_CERT, &cli.tls_cert),
        (&TLS_KEY, &cli.tls_key),
        (&DUMP_URL, &cli.dump_url),
    ]
    .into_iter()
    .filter_map(|(s, v)| v.clone().map(|v| (s.key, v)))
    .collect()
}

fn file_layer(f: FileConfig) -> HashMap<&'static str, String> {
    let text = |v: Option<FileValue>| v.as_ref().map(FileValue::to_text);
    let secret = |v: Option<Secret>| v.map(|s| s.expose().to_owned());
    [
        // TOML text is always UTF-8, so this conversion loses nothing.
        (
            &DATA_DIR,
            f.data_dir.map(|p| p.to_string_lossy().into_owned()),
        ),
        (&HTTP_LISTEN, f.http_listen),
        (&PG_LISTEN, f.pg_listen),
        (&ADMIN_TOKEN, secret(f.admin_token)),
        (&CLIENT_TOKEN, secret(f.client_token)),
        (&MAX_REQUEST_BYTES, text(f.max_request_bytes)),
        (&MAX_RESPONSE_BYTES, text(f.max_response_bytes)),
        (&MAX_RESPONSE_ROWS, text(f.max_response_rows)),
        (&STATEMENT_TIMEOUT, text(f.statement_timeout)),
        (&SQLITE_READERS, text(f.sqlite_readers)),
        (&LOG, f.log),
        (
            &IDLE_IN_TRANSACTION_TIMEOUT,
            text(f.idle_in_transaction_timeout),
        ),
        (
            &TLS_CERT,
            f.tls_cert.map(|p| p.to_string_lossy().into_owned()),
        ),
        (
            &TLS_KEY,
            f.tls_key.map(|p| p.to_string_lossy().into_owned()),
        ),
        (&DUMP_URL, f.dump_url),
        (&DUMP_CHUNK_SIZE, text(f.dump_chunk_size)),
        (&DUMP_BREATHING_INTERVAL, text(f.dump_breathing_interval)),
        (&MAX_EXECUTION_TIME, text(f.max_execution_time)),
        (&DUMP_PART_BYTES, text(f.dump_part_bytes)),
        (&DUMP_MAX_CONCURRENT, text(f.dump_max_concurrent)),
        (&DUMP_NICE, text(f.dump_nice)),
        (&ALLOW_HTTP_CALLBACKS, text(f.allow_http_callbacks)),
        (&DUMP_CALLBACK_SECRET, secret(f.dump_callback_secret)),
        (&ENABLE_ALLOWLIST, text(f.enable_allowlist)),
        (&ENABLE_RLS, text(f.enable_rls)),
        (&AUTH_ALGORITHM, f.auth_algorithm),
        (&AUTH_JWKS_ENDPOINT, f.auth_jwks_endpoint),
        (&AUTH_JWT_SECRET, secret(f.auth_jwt_secret)),
        (&AUTH_JWT_ISSUER, f.auth_jwt_issuer),
        (&AUTH_JWT_AUDIENCE, f.auth_jwt_audience),
        (&JWT_LEEWAY, text(f.jwt_leeway)),
        (&JWKS_REFETCH_INTERVAL, text(f.jwks_refetch_interval)),
        (&RATE_LIMIT_PER_TOKEN, f.rate_limit_per_token),
        (&RATE_LIMIT_PER_ADDR, f.rate_limit_per_addr),
        (&RATE_LIMIT_AUTH_FAILURES, f.rate_limit_auth_failures),
    ]
    .into_iter()
    .filter_map(|(s, v)| v.map(|v| (s.key, v)))
    .collect()
}
