//! Turns the raw fields of one data source into a `SourceConfig`: types, URLs, ports, pool
//! sizes, timeouts and TLS modes.
//!
//! Owns the accepted spellings (`postgresql`/`postgres`, `mysql`/`mariadb`; libpq's and
//! MySQL's TLS mode names; URL query parameters) and the wording of what is wrong. Never puts
//! a URL or a password in a message. Must not know where a field came from beyond its origin.

use std::time::Duration;

use starbase_backends::external::config::{Secret, ServerConfig, TlsMode};

use super::ConfigError;
use super::source::{RawSource, SourceConfig, SourceKind, SourceName};

/// A field of a source, by its `[[sources]]` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Name,
    Type,
    Url,
    Host,
    Port,
    User,
    Password,
    Database,
    SearchPath,
    PoolSize,
    ConnectTimeout,
    AcquireTimeout,
    Tls,
    Pipeline,
}

impl Field {
    pub(super) fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Type => "type",
            Field::Url => "url",
            Field::Host => "host",
            Field::Port => "port",
            Field::User => "user",
            Field::Password => "password",
            Field::Database => "database",
            Field::SearchPath => "search_path",
            Field::PoolSize => "pool_size",
            Field::ConnectTimeout => "connect_timeout",
            Field::AcquireTimeout => "acquire_timeout",
            Field::Tls => "tls",
            Field::Pipeline => "pipeline",
        }
    }
}

/// Fields that `url` replaces.
const CONNECTION_FIELDS: [Field; 6] = [
    Field::Type,
    Field::Host,
    Field::Port,
    Field::User,
    Field::Password,
    Field::Database,
];

/// Connection settings as read from a URL or the separate fields.
#[derive(Debug, Default)]
struct Connection {
    kind: Option<SourceKind>,
    host: String,
    port: Option<u16>,
    user: String,
    password: String,
    database: String,
    /// `(field, value)` settings given as URL query parameters; they win over fields.
    options: Vec<(Field, String)>,
}

/// Validates one source.
pub(super) fn build(raw: &RawSource) -> Result<SourceConfig, ConfigError> {
    let name = match raw.get(Field::Name) {
        Some((n, _)) => SourceName::parse(n).map_err(|e| raw.error(Field::Name, e))?,
        None => return Err(raw.error(Field::Name, "every source needs a name")),
    };
    let conn = match raw.get(Field::Url) {
        Some((url, _)) => {
            if let Some(f) = CONNECTION_FIELDS.iter().find(|f| raw.get(**f).is_some()) {
                return Err(raw.error(*f, format!("give either url or {}, not both", f.key())));
            }
            parse_url(url).map_err(|e| raw.error(Field::Url, e))?
        }
        None => fields(raw)?,
    };
    let kind = conn.kind.ok_or_else(|| {
        raw.error(
            Field::Type,
            "no type: set type = \"postgresql\" or \"mysql\", or a url",
        )
    })?;
    if conn.host.is_empty() {
        return Err(raw.error(Field::Host, "no host"));
    }
    if kind == SourceKind::MySql && conn.host.starts_with('/') {
        return Err(raw.error(
            Field::Host,
            "a socket directory as host is for PostgreSQL sources; give MySQL a host name",
        ));
    }
    if conn.user.is_empty() {
        return Err(raw.error(Field::User, "no user"));
    }
    let database = match (kind, conn.database.is_empty()) {
        // libpq's rule: the database defaults to the user name.
        (SourceKind::Postgres, true) => conn.user.clone(),
        (SourceKind::MySql, true) => return Err(raw.error(Field::Database, "no database")),
        (_, false) => conn.database.clone(),
    };
    let mut server = ServerConfig::new(
        conn.host.clone(),
        conn.port.unwrap_or(kind.default_port()),
        conn.user.clone(),
        database,
    );
    server.password = Secret::new(conn.password.clone());
    apply_options(raw, &conn, &mut server)?;
    Ok(SourceConfig { name, kind, server })
}

/// Pool, TLS and search-path settings: URL query parameters win over the fields.
fn apply_options(
    raw: &RawSource,
    conn: &Connection,
    server: &mut ServerConfig,
) -> Result<(), ConfigError> {
    let value = |field: Field| {
        conn.options
            .iter()
            .rev()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
            .or_else(|| raw.get(field).map(|(v, _)| v))
    };
    let field_err = |field: Field| move |e: String| raw.error(field, e);
    if let Some(v) = value(Field::PoolSize) {
        server.pool_size = pool_size(v).map_err(field_err(Field::PoolSize))?;
    }
    if let Some(v) = value(Field::ConnectTimeout) {
        server.connect_timeout = timeout(v).map_err(field_err(Field::ConnectTimeout))?;
    }
    if let Some(v) = value(Field::AcquireTimeout) {
        server.acquire_timeout = timeout(v).map_err(field_err(Field::AcquireTimeout))?;
    }
    if let Some(v) = value(Field::Tls) {
        server.tls = tls(v).map_err(field_err(Field::Tls))?;
    }
    if let Some(v) = value(Field::Pipeline) {
        server.pipeline = super::parse::boolean(v).map_err(field_err(Field::Pipeline))?;
    }
    if let Some(v) = value(Field::SearchPath) {
        let v = v.trim();
        server.search_path = (!v.is_empty()).then(|| v.to_owned());
    }
    Ok(())
}

/// The separate fields (`type`, `host`, …).
fn fields(raw: &RawSource) -> Result<Connection, ConfigError> {
    let text = |f: Field| {
        raw.get(f)
            .map(|(v, _)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let kind = match raw.get(Field::Type) {
        Some((t, _)) => Some(kind(t).map_err(|e| raw.error(Field::Type, e))?),
        None => None,
    };
    let port = match raw.get(Field::Port) {
        Some((p, _)) => Some(port(p).map_err(|e| raw.error(Field::Port, e))?),
        None => None,
    };
    Ok(Connection {
        kind,
        host: text(Field::Host),
        port,
        user: text(Field::User),
        // A password is taken as it is: spaces may be part of it.
        password: raw
            .get(Field::Password)
            .map(|(v, _)| v.to_owned())
            .unwrap_or_default(),
        database: text(Field::Database),
        options: Vec::new(),
    })
}

/// `postgresql`, `postgres`, `pg`, `mysql` or `mariadb` (case-insensitive).
fn kind(text: &str) -> Result<SourceKind, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "postgresql" | "postgres" | "pg" => Ok(SourceKind::Postgres),
        "mysql" | "mariadb" => Ok(SourceKind::MySql),
        "sqlite" => Err(
            "type \"sqlite\" (StarbaseDB's D1, Turso and StarbaseDB providers) is \
                         not supported; use postgresql or mysql"
                .to_owned(),
        ),
        other => Err(format!(
            "unknown type \"{other}\" (use postgresql or mysql)"
        )),
    }
}

fn port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("\"{text}\" is not a TCP port (1 to 65535)"))
}

fn pool_size(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| format!("\"{text}\" is not a pool size (1 to 10000)"))
}

/// A positive duration: humantime (`5s`, `500ms`) or, as libpq's `connect_timeout`, a
/// number of seconds.
fn timeout(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let d = match t.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t)
            .map_err(|e| format!("\"{text}\" is not a duration (e.g. 5s or 500ms): {e}"))?,
    };
    if d.is_zero() {
        return Err("a timeout must be longer than zero".to_owned());
    }
    Ok(d)
}

/// libpq's `sslmode` names and MySQL's `ssl-mode` names. `require` verifies the certificate
/// and host name (stricter than libpq, whose `require` does not).
fn tls(text: &str) -> Result<TlsMode, String> {
    match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "disable" | "disabled" | "false" | "off" => Ok(TlsMode::Disable),
        "allow" | "prefer" | "preferred" => Ok(TlsMode::Prefer),
        "require" | "required" | "verify-ca" | "verify-full" | "verify-identity" | "true"
        | "on" => Ok(TlsMode::Require),
        other => Err(format!(
            "unknown TLS mode \"{other}\" (use disable, prefer or require)"
        )),
    }
}

/// `postgres://user:pass@host:port/db?sslmode=…` or `mysql://…`; the `host` and `port`
/// parameters win over the authority's, as in libpq. Errors never quote the URL.
fn parse_url(text: &str) -> Result<Connection, String> {
    let url = url_of(text.trim())?;
    let kind = match url.scheme() {
        "postgres" | "postgresql" => SourceKind::Postgres,
        "mysql" | "mariadb" => SourceKind::MySql,
        other => {
            return Err(format!(
                "unknown URL scheme \"{other}\" (use postgres:// or mysql://)"
            ));
        }
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| "the URL has a percent-encoded part that is not UTF-8".to_owned())
    };
    let host = url
        .host_str()
        .filter(|h| *h != NO_HOST)
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let mut conn = Connection {
        kind: Some(kind),
        host: decode(&host)?,
        port: url.port(),
        user: decode(url.username())?,
        password: decode(url.password().unwrap_or_default())?,
        database: decode(url.path().trim_start_matches('/'))?,
        options: Vec::new(),
    };
    if conn.database.contains('/') {
        return Err("the URL path must be just the database name".to_owned());
    }
    query(&url, &mut conn)?;
    Ok(conn)
}

/// Stands in for the empty host of `postgres://user@/db?host=…`, which the URL parser refuses
/// once the URL has credentials (a `.invalid` name never resolves).
const NO_HOST: &str = "no-host.invalid";

/// The parsed URL; one whose authority has no host gets [`NO_HOST`].
fn url_of(text: &str) -> Result<url::Url, String> {
    let parsed = match url::Url::parse(text) {
        Err(url::ParseError::EmptyHost) => match with_placeholder_host(text) {
            Some(filled) => url::Url::parse(&filled),
            None => Err(url::ParseError::EmptyHost),
        },
        other => other,
    };
    parsed.map_err(|e| format!("not a URL: {e}"))
}

/// `text` with [`NO_HOST`] where its authority's host is empty (after the credentials,
/// before the port, path, query or end).
fn with_placeholder_host(text: &str) -> Option<String> {
    let start = text.find("://")? + 3;
    let end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    let at = text[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (at == end || text[at..end].starts_with(':'))
        .then(|| format!("{}{NO_HOST}{}", &text[..at], &text[at..]))
}

/// The URL's query parameters: `host` and `port` (libpq's way to name a socket directory,
/// which an authority cannot hold unencoded) replace the authority's; the others are
/// settings.
fn query(url: &url::Url, conn: &mut Connection) -> Result<(), String> {
    for (key, value) in url.query_pairs() {
        let field = match key.as_ref() {
            "host" => {
                conn.host = value.trim().to_owned();
                continue;
            }
            "port" => {
                conn.port = Some(port(&value)?);
                continue;
            }
            "sslmode" | "ssl-mode" | "ssl_mode" | "tls" => Field::Tls,
            "pool_size" | "pool_max_conns" => Field::PoolSize,
            "connect_timeout" => Field::ConnectTimeout,
            "acquire_timeout" => Field::AcquireTimeout,
            "search_path" => Field::SearchPath,
            "pipeline" => Field::Pipeline,
            other => {
                return Err(format!(
                    "unknown URL parameter \"{other}\" (known: host, port, sslmode, \
                     pool_size, connect_timeout, acquire_timeout, search_path, pipeline)"
                ));
            }
        };
        conn.options.push((field, value.into_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = parse_url("postgres://u%40x:p%2Fw@db.example:6543/app?sslmode=require").unwrap();
        assert_eq!(c.kind, Some(SourceKind::Postgres));
        assert_eq!((c.host.as_str(), c.port), ("db.example", Some(6543)));
        assert_eq!((c.user.as_str(), c.password.as_str()), ("u@x", "p/w"));
        assert_eq!(c.database, "app");
        assert_eq!(c.options, vec![(Field::Tls, "require".to_owned())]);
        let c = parse_url("mysql://root@[::1]/test").unwrap();
        assert_eq!((c.kind, c.host.as_str()), (Some(SourceKind::MySql), "::1"));
        assert_eq!((c.port, c.password.as_str()), (None, ""));
        let e = parse_url("redis://u:hunter2@h/db").unwrap_err();
        assert!(e.contains("\"redis\"") && !e.contains("hunter2"), "{e}");
        let e = parse_url("postgres://u:hunter2@h:99999/db").unwrap_err();
        assert!(e.contains("not a URL") && !e.contains("hunter2"), "{e}");
        let e = parse_url("postgres://u@h/db?application_name=x").unwrap_err();
        assert!(e.contains("\"application_name\""), "{e}");
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn socket_directories_in_urls() {
        // libpq's forms: the directory as a parameter, or percent-encoded as the host.
        let c = parse_url("postgres://me@/app?host=/var/run/postgresql").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("/var/run/postgresql", None));
        assert_eq!((c.user.as_str(), c.database.as_str()), ("me", "app"));
        assert!(c.options.is_empty());
        let c = parse_url("postgresql://me@%2Fvar%2Frun%2Fpostgresql:5433/app").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port),
            ("/var/run/postgresql", Some(5433))
        );
        let c = parse_url("postgres://me@ignored/app?host=%2Ftmp&port=6000").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("/tmp", Some(6000)));
        assert!(parse_url("postgres://me@/app?port=0").is_err());
        let c = parse_url("postgres://me:pw@:6000/app?host=/tmp").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("/tmp", Some(6000)));
        // Without a host parameter an empty host is still missing, not the placeholder.
        let c = parse_url("postgres://me@/app").unwrap();
        assert_eq!(c.host, "");
    }

    #[test]
    fn values() {
        assert_eq!(kind("PostgreSQL"), Ok(SourceKind::Postgres));
        assert_eq!(kind("mariadb"), Ok(SourceKind::MySql));
        assert!(kind("oracle").unwrap_err().contains("\"oracle\""));
        assert!(kind("sqlite").unwrap_err().contains("not supported"));
        assert_eq!(tls("verify-full"), Ok(TlsMode::Require));
        assert_eq!(tls("PREFERRED"), Ok(TlsMode::Prefer));
        assert_eq!(tls("VERIFY_IDENTITY"), Ok(TlsMode::Require));
        assert!(tls("maybe").is_err());
        assert_eq!(timeout("10"), Ok(Duration::from_secs(10)));
        assert_eq!(timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(timeout("0").is_err() && timeout("soon").is_err());
        assert_eq!(pool_size("4"), Ok(4));
        assert!(pool_size("0").is_err());
        assert!(port("0").is_err() && port("70000").is_err());
    }
}
