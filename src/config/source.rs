//! External data sources: `[[sources]]` tables, StarbaseDB's `EXTERNAL_DB_*` variables and
//! `STARBASE_EXTERNAL_URL`.
//!
//! Owns `SourceConfig`, `SourceKind` and `SourceName`, gathering the raw fields of each source
//! from the file and the environment (the environment's `external` source replaces the file's),
//! and validating them: names, types, URLs, duplicates. Parsing URLs and field values lives in
//! `source_parse`. Must not connect to anything or know the drivers.

use starbase_backends::external::config::ServerConfig;

use super::file::{FileSource, FileValue};
use super::layers::Sources;
use super::source_parse::{self, Field};
use super::{ConfigError, Origin};

/// The name of the embedded database; no external source may take it.
pub const INTERNAL_SOURCE: &str = "internal";
/// The name of the source configured by StarbaseDB's variables or `STARBASE_EXTERNAL_URL`.
pub const EXTERNAL_SOURCE: &str = "external";

/// `STARBASE_EXTERNAL_URL`: the `external` source as one URL (wins over `EXTERNAL_DB_*`).
pub(super) const EXTERNAL_URL_ENV: &str = "STARBASE_EXTERNAL_URL";
/// StarbaseDB's variables for the `external` source, by field.
const STARBASEDB_ENV: [(Field, &str); 6] = [
    (Field::Type, "EXTERNAL_DB_TYPE"),
    (Field::Host, "EXTERNAL_DB_HOST"),
    (Field::Port, "EXTERNAL_DB_PORT"),
    (Field::User, "EXTERNAL_DB_USER"),
    (Field::Password, "EXTERNAL_DB_PASS"),
    (Field::Database, "EXTERNAL_DB_DATABASE"),
];
/// Our variables for the pool and TLS of the `external` source, by field.
const POOL_ENV: [(Field, &str); 6] = [
    (Field::PoolSize, "STARBASE_EXTERNAL_POOL_SIZE"),
    (Field::ConnectTimeout, "STARBASE_EXTERNAL_CONNECT_TIMEOUT"),
    (Field::AcquireTimeout, "STARBASE_EXTERNAL_ACQUIRE_TIMEOUT"),
    (Field::Tls, "STARBASE_EXTERNAL_TLS"),
    (Field::SearchPath, "STARBASE_EXTERNAL_SEARCH_PATH"),
    (Field::Pipeline, "STARBASE_EXTERNAL_PIPELINE"),
];

/// The environment variables that configure the `external` source.
pub(super) fn env_names() -> impl Iterator<Item = &'static str> {
    std::iter::once(EXTERNAL_URL_ENV)
        .chain(STARBASEDB_ENV.iter().map(|(_, name)| *name))
        .chain(POOL_ENV.iter().map(|(_, name)| *name))
}

/// Which engine an external source runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl SourceKind {
    /// StarbaseDB's name for the dialect (`EXTERNAL_DB_TYPE`, `/status/database`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgresql",
            SourceKind::MySql => "mysql",
        }
    }

    /// The server's usual port.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            SourceKind::Postgres => 5432,
            SourceKind::MySql => 3306,
        }
    }
}

/// A data source name: lowercase ASCII letters, digits, `_` and `-` (requests name sources
/// case-insensitively, so names are stored lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceName(String);

impl SourceName {
    /// Checks a configured name.
    ///
    /// # Errors
    /// What is wrong with it (empty, `internal`, characters outside `[a-z0-9_-]`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let name = text.trim();
        if name.is_empty() {
            return Err("the name is empty".to_owned());
        }
        if name.eq_ignore_ascii_case(INTERNAL_SOURCE) {
            return Err("\"internal\" is the embedded database; choose another name".to_owned());
        }
        if name.len() > 63
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "\"{name}\" is not a source name: use at most 63 lowercase letters, digits, \
                 \"_\" or \"-\""
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as requests give it (lowercase).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SourceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An external database the gateway fronts.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The name requests use.
    pub name: SourceName,
    /// PostgreSQL or MySQL/MariaDB.
    pub kind: SourceKind,
    /// Where the server is and how connections to it are pooled.
    pub server: ServerConfig,
}

/// The raw fields of one source, each with where it came from.
#[derive(Debug, Default)]
pub(super) struct RawSource {
    /// How errors name the source before its name is known (`[[sources]] #2`).
    pub(super) label: String,
    pub(super) fields: Vec<(Field, String, Origin)>,
}

impl RawSource {
    pub(super) fn get(&self, field: Field) -> Option<(&str, &Origin)> {
        self.fields
            .iter()
            .find(|(f, _, _)| *f == field)
            .map(|(_, v, o)| (v.as_str(), o))
    }

    fn push(&mut self, field: Field, value: Option<String>, origin: &Origin) {
        if let Some(v) = value {
            self.fields.push((field, v, origin.clone()));
        }
    }

    /// An error about `field` of this source.
    pub(super) fn error(&self, field: Field, reason: impl Into<String>) -> ConfigError {
        let origin = self
            .get(field)
            .or_else(|| self.fields.first().map(|(_, v, o)| (v.as_str(), o)))
            .map_or(Origin::Default, |(_, o)| o.clone());
        ConfigError::Source {
            name: self.label.clone(),
            field: field.key(),
            origin,
            reason: reason.into(),
        }
    }
}

/// Every configured source, in file order; the environment's `external` source replaces the
/// file's entry of that name (or comes last).
pub(super) fn gather(src: &Sources<'_>) -> Result<Vec<SourceConfig>, ConfigError> {
    let mut raws: Vec<RawSource> = src
        .file_sources()
        .iter()
        .enumerate()
        .map(|(i, f)| from_file(f, i, &src.file_origin()))
        .collect();
    if let Some(env) = from_env(src)? {
        let position = raws.iter().position(|r| {
            r.get(Field::Name)
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(EXTERNAL_SOURCE))
        });
        match position {
            Some(i) => raws[i] = env,
            None => raws.push(env),
        }
    }
    let mut out: Vec<SourceConfig> = Vec::with_capacity(raws.len());
    for raw in &raws {
        let source = source_parse::build(raw)?;
        if out.iter().any(|s| s.name == source.name) {
            return Err(raw.error(
                Field::Name,
                format!("another source is already named \"{}\"", source.name),
            ));
        }
        out.push(source);
    }
    Ok(out)
}

fn from_file(f: &FileSource, index: usize, origin: &Origin) -> RawSource {
    let text = |v: &Option<FileValue>| v.as_ref().map(FileValue::to_text);
    let label = match f.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => format!("\"{}\"", n.to_ascii_lowercase()),
        _ => format!("[[sources]] #{}", index + 1),
    };
    let mut raw = RawSource {
        label,
        fields: Vec::new(),
    };
    raw.push(Field::Name, f.name.clone(), origin);
    raw.push(Field::Type, f.kind.clone(), origin);
    raw.push(
        Field::Url,
        f.url.as_ref().map(|s| s.expose().to_owned()),
        origin,
    );
    raw.push(Field::Host, f.host.clone(), origin);
    raw.push(Field::Port, text(&f.port), origin);
    raw.push(Field::User, f.user.clone(), origin);
    raw.push(
        Field::Password,
        f.password.as_ref().map(|s| s.expose().to_owned()),
        origin,
    );
    raw.push(Field::Database, f.database.clone(), origin);
    raw.push(Field::SearchPath, f.search_path.clone(), origin);
    raw.push(Field::PoolSize, text(&f.pool_size), origin);
    raw.push(Field::ConnectTimeout, text(&f.connect_timeout), origin);
    raw.push(Field::AcquireTimeout, text(&f.acquire_timeout), origin);
    raw.push(Field::Tls, f.tls.clone(), origin);
    raw.push(Field::Pipeline, text(&f.pipeline), origin);
    raw
}

/// The `external` source from the environment: `STARBASE_EXTERNAL_URL`, else StarbaseDB's
/// `EXTERNAL_DB_*`; `None` when neither is set.
fn from_env(src: &Sources<'_>) -> Result<Option<RawSource>, ConfigError> {
    let mut raw = RawSource {
        label: format!("\"{EXTERNAL_SOURCE}\""),
        fields: Vec::new(),
    };
    if let Some(url) = src.env_var(EXTERNAL_URL_ENV) {
        raw.push(Field::Url, Some(url), &Origin::Env(EXTERNAL_URL_ENV));
    } else {
        for (field, var) in STARBASEDB_ENV {
            raw.push(field, src.env_var(var), &Origin::Env(var));
        }
    }
    if raw.fields.is_empty() {
        return Ok(None);
    }
    if raw.get(Field::Url).is_none() && raw.get(Field::Type).is_none() {
        return Err(raw.error(
            Field::Type,
            "EXTERNAL_DB_TYPE is not set (postgresql or mysql), but other EXTERNAL_DB_* \
             variables are",
        ));
    }
    for (field, var) in POOL_ENV {
        raw.push(field, src.env_var(var), &Origin::Env(var));
    }
    let origin = raw.fields[0].2.clone();
    raw.fields
        .insert(0, (Field::Name, EXTERNAL_SOURCE.to_owned(), origin));
    Ok(Some(raw))
}
