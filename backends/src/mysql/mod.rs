//! The external MySQL/MariaDB backend (mysql_async and its pool, rustls).
//!
//! Owns the public API: `MySqlBackend`, `MySqlConfig`, `MySqlSession`. Plans run exactly as
//! on the embedded SQLite (same events, modes, parameter binding and transaction rules; see
//! `crate::external::run`), each on a pooled connection owned by a task of the backend.
//! `$n`, `?N` and named placeholders are rewritten to `?`, duplicating values for reused
//! placeholders. Must not know any frontend.
//!
//! Values (the same through the text and the binary protocol): TINYINT(1)/BOOL → `Bool`;
//! other integers and YEAR → `Int` (BIGINT UNSIGNED above `i64::MAX` → `Numeric`); BIT →
//! `Int`; DECIMAL → `Numeric` (exact text); FLOAT/DOUBLE → `Float`; CHAR, VARCHAR, TEXT,
//! ENUM, SET → `Text`; BINARY, VARBINARY, BLOB → `Bytes`; JSON → `Json` on MySQL (MariaDB's
//! JSON is LONGTEXT and reads as `Text`); DATE → `YYYY-MM-DD`; DATETIME/TIMESTAMP →
//! `YYYY-MM-DDTHH:MM:SS[.ffffff]` (every connection sets `time_zone = '+00:00'`, so
//! TIMESTAMP is UTC); TIME → `[-]HH:MM:SS[.ffffff]`.
//!
//! Errors: server error numbers map to the SQLSTATE SQLite gives for the same failure
//! (1062 → 23505, 1451/1452 → 23503, 1048/1364 → 23502, 3819/4025 → 23514, 1064 → 42601,
//! 1146 → 42P01, 1054 → 42703, 1213 → 40P01, 1205 → 55P03, 1317 → 57014, 1040 → 53300, …;
//! the full table is in `error`); the MySQL error number is in `detail`. UPDATE reports rows
//! matched, as PostgreSQL and SQLite do. MySQL commits implicitly before DDL.
//!
//! Layout: `pool` (the pool and one connection), `exec` (statements on a connection),
//! `convert` (values both ways), `error` (SQLSTATEs), `session` (`MySqlSession`).

mod convert;
pub mod dump;
mod error;
mod exec;
mod pool;
mod session;

use starbase_protocol::Plan;

use self::pool::MySqlSource;
pub use self::session::MySqlSession;
use crate::error::Error;
use crate::external::config::ServerConfig;
pub use crate::external::{ExecOptions, SessionConfig};
use crate::result::ResultStream;

/// MySQL/MariaDB connection settings (default port 3306). `TlsMode::Prefer` tries TLS and
/// switches to plain TCP for good when the server has none.
pub type MySqlConfig = ServerConfig;

/// The default MySQL port.
pub const DEFAULT_PORT: u16 = 3306;

/// An external MySQL or MariaDB database. Cheap to clone; all clones share the pool.
#[derive(Debug, Clone)]
pub struct MySqlBackend {
    source: MySqlSource,
}

impl MySqlBackend {
    /// Sets up the pool without connecting: a server that is down makes requests fail
    /// (`08006`), not this call, and the backend recovers by itself when it comes back.
    ///
    /// # Errors
    /// `22023` for an invalid pool configuration.
    pub fn connect(config: &MySqlConfig) -> Result<Self, Error> {
        Ok(Self {
            source: MySqlSource::new(config)?,
        })
    }

    /// Runs `plan` on a pooled connection and returns its result stream at once; events as
    /// for `SqliteBackend::execute` (`Done` carries `last_insert_id` for inserts into an
    /// `AUTO_INCREMENT` table).
    ///
    /// Errors arrive on the stream and end it: `08006` when the server cannot be reached or
    /// the connection breaks, `53300` when no pooled connection frees up within the acquire
    /// timeout, `57014` for the statement timeout (`KILL QUERY`), `22023` for parameters,
    /// `25001` for transaction control inside a transaction plan or a transaction left open,
    /// and server errors mapped to the SQLSTATEs SQLite gives for the same failure.
    /// Dropping the stream kills the statement on the server and rolls back its
    /// transaction.
    ///
    /// # Errors
    /// [`Error::Closed`] when the backend is shutting down.
    pub async fn execute(&self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        crate::external::task::execute_plan(&self.source, plan, &opts)
    }

    /// A session: plans that may open a transaction in one plan and end it in a later one.
    /// Opening one costs nothing; a pooled connection is only pinned by a transaction.
    #[must_use]
    #[allow(clippy::needless_pass_by_value)] // the same signature as `SqliteBackend::session`
    pub fn session(&self, config: SessionConfig) -> MySqlSession {
        MySqlSession::new(self.source.clone(), &config)
    }

    /// `host:port` of the server.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.source.0.address
    }

    /// Cancels running plans (`57P01`), waits for their tasks and closes the pool.
    pub async fn shutdown(&self) {
        self.source.0.tasks.shutdown().await;
        self.source.0.slots.close();
        let shared = &self.source.0;
        for route in std::iter::once(&shared.primary).chain(&shared.fallback) {
            if let Err(e) = route.pool.clone().disconnect().await {
                tracing::warn!(error = %e, "closing the MySQL pool failed");
            }
        }
    }
}
