//! Connection settings shared by the external backends (PostgreSQL, MySQL/MariaDB).
//!
//! Owns `ServerConfig`, `Secret` and `TlsMode`. Pure data with defaults: must not know any
//! driver type (each backend turns this into its driver's options).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Connections a pool opens at most, by default.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long opening one connection may take, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a free pooled connection before `53300`, by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle time before TCP keepalive probes start, so a server that vanished without closing
/// its connections is noticed (`08006`) even while a statement waits on it.
pub const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// A secret string (a password) whose `Debug` and `Display` print `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself; call only where it is handed to a driver.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no secret was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Whether connections to the server use TLS (rustls, Mozilla's root certificates from
/// `webpki-roots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain TCP.
    #[default]
    Disable,
    /// TLS when the server offers it, plain TCP otherwise, and the certificate is not
    /// verified (libpq's `sslmode=prefer`): keeps passive eavesdroppers out, gives no
    /// protection against an active attacker.
    Prefer,
    /// TLS with a certificate verified against Mozilla's roots (`webpki-roots`) and the
    /// host name, or no connection (libpq's `verify-full`).
    Require,
}

/// Where an external database server is and how to pool connections to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Host name or IP address; PostgreSQL only: an absolute path is the directory of the
    /// server's Unix-domain socket, as in libpq (see [`ServerConfig::unix_socket`]).
    pub host: String,
    /// TCP port (for a socket directory: the number in the socket's name).
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password (empty: none).
    pub password: Secret,
    /// Database to connect to.
    pub database: String,
    /// Connections opened at most (at least 1).
    pub pool_size: usize,
    /// How long opening one connection may take before `08006`.
    pub connect_timeout: Duration,
    /// How long a request waits for a free pooled connection before `53300`.
    pub acquire_timeout: Duration,
    /// TLS to the server.
    pub tls: TlsMode,
    /// PostgreSQL only: the `search_path` every connection starts with (default: the
    /// server's). Ignored by MySQL, whose schemas are databases.
    pub search_path: Option<String>,
    /// PostgreSQL only: whether the wire proxy may pipeline clients' lone autocommit
    /// statements on shared server connections (default on).
    pub pipeline: bool,
}

impl ServerConfig {
    /// Settings with the default pool size, timeouts and no TLS.
    #[must_use]
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        database: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            user: user.into(),
            password: Secret::default(),
            database: database.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            tls: TlsMode::Disable,
            search_path: None,
            pipeline: true,
        }
    }

    /// `host:port`, or the socket's path, for messages.
    #[must_use]
    pub fn address(&self) -> String {
        if let Some(path) = self.unix_socket() {
            path.display().to_string()
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The Unix-domain socket a PostgreSQL client connects to when `host` is a directory
    /// (an absolute path, libpq's rule): `<host>/.s.PGSQL.<port>`. `None` for a TCP host.
    #[must_use]
    pub fn unix_socket(&self) -> Option<PathBuf> {
        unix_socket(&self.host, self.port)
    }

    /// The pool size, at least 1.
    pub(crate) fn pool_size(&self) -> usize {
        self.pool_size.max(1)
    }
}

/// PostgreSQL's Unix-domain socket in the directory `host` for `port`, when `host` is an
/// absolute path (libpq's rule for telling a socket directory from a host name):
/// `<host>/.s.PGSQL.<port>`. `None` for a host name or an IP address.
#[must_use]
pub fn unix_socket(host: &str, port: u16) -> Option<PathBuf> {
    host.starts_with('/')
        .then(|| PathBuf::from(host).join(format!(".s.PGSQL.{port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_not_printed() {
        let mut config = ServerConfig::new("db", 5432, "u", "d");
        config.password = Secret::new("hunter2");
        let printed = format!("{config:?} {}", config.password);
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(config.password.expose(), "hunter2");
        assert_eq!(config.address(), "db:5432");
        assert_eq!(ServerConfig::new("::1", 1, "u", "d").address(), "[::1]:1");
        assert_eq!(config.unix_socket(), None);
    }

    #[test]
    fn an_absolute_host_is_a_socket_directory() {
        let config = ServerConfig::new("/var/run/postgresql", 5433, "u", "d");
        assert_eq!(
            config.unix_socket(),
            Some(PathBuf::from("/var/run/postgresql/.s.PGSQL.5433"))
        );
        assert_eq!(config.address(), "/var/run/postgresql/.s.PGSQL.5433");
        assert_eq!(
            unix_socket("/tmp/", 5432),
            Some(PathBuf::from("/tmp/.s.PGSQL.5432"))
        );
        assert_eq!(unix_socket("tmp", 5432), None);
    }
}
