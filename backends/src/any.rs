//! One type for whichever backend a data source uses.
//!
//! Owns `AnyBackend`, `AnySession` and `BackendKind`: enum dispatch over the backends built
//! in (the set is closed, so matches are exhaustive and nothing is boxed). Backend-specific
//! features stay on the concrete types. Must not know any frontend.

use starbase_protocol::{Dialect, Plan};

use crate::error::Error;
use crate::result::{ResultStream, TxnState};

#[cfg(feature = "mysql")]
use crate::mysql::{MySqlBackend, MySqlSession};
#[cfg(feature = "postgres")]
use crate::postgres::{PgBackend, PgSession};
#[cfg(feature = "sqlite")]
use crate::sqlite::{SqliteBackend, SqliteSession};

/// Options for one `execute` call and for sessions, shared by every backend.
#[cfg(all(not(feature = "sqlite"), any(feature = "postgres", feature = "mysql")))]
pub use crate::external::{ExecOptions, SessionConfig};
/// Options for one `execute` call and for sessions, shared by every backend.
#[cfg(feature = "sqlite")]
pub use crate::sqlite::{ExecOptions, SessionConfig};

/// Which engine a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The embedded SQLite database.
    Sqlite,
    /// An external PostgreSQL server.
    Postgres,
    /// An external MySQL or MariaDB server.
    MySql,
}

impl BackendKind {
    /// The SQL dialect the engine speaks.
    #[must_use]
    pub fn dialect(self) -> Dialect {
        match self {
            BackendKind::Sqlite => Dialect::Sqlite,
            BackendKind::Postgres => Dialect::Postgres,
            BackendKind::MySql => Dialect::MySql,
        }
    }
}

/// Any backend. Cheap to clone.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyBackend {
    /// The embedded SQLite database.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteBackend),
    /// An external PostgreSQL server.
    #[cfg(feature = "postgres")]
    Postgres(PgBackend),
    /// An external MySQL or MariaDB server.
    #[cfg(feature = "mysql")]
    MySql(MySqlBackend),
}

/// A session on any backend.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One per connection; boxing would cost every plan.
#[non_exhaustive]
pub enum AnySession {
    /// A SQLite session.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteSession),
    /// A PostgreSQL session.
    #[cfg(feature = "postgres")]
    Postgres(PgSession),
    /// A MySQL session.
    #[cfg(feature = "mysql")]
    MySql(MySqlSession),
}

impl AnyBackend {
    /// Which engine this is.
    #[must_use]
    pub fn kind(&self) -> BackendKind {
        match self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(_) => BackendKind::Sqlite,
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(_) => BackendKind::Postgres,
            #[cfg(feature = "mysql")]
            AnyBackend::MySql(_) => BackendKind::MySql,
        }
    }

    /// The SQL dialect the backend speaks.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.kind().dialect()
    }

    /// Runs a plan; see each backend's `execute`.
    ///
    /// # Errors
    /// [`Error::Closed`] when the backend is shutting down; statement errors (with their
    /// SQLSTATEs) arrive on the stream.
    pub async fn execute(&self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(b) => b.execute(plan, opts).await,
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.execute(plan, opts).await,
            #[cfg(feature = "mysql")]
            AnyBackend::MySql(b) => b.execute(plan, opts).await,
        }
    }

    /// A session: plans whose transaction may span several of them.
    #[must_use]
    pub fn session(&self, config: SessionConfig) -> AnySession {
        match self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(b) => AnySession::Sqlite(b.session(config)),
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => AnySession::Postgres(b.session(config)),
            #[cfg(feature = "mysql")]
            AnyBackend::MySql(b) => AnySession::MySql(b.session(config)),
        }
    }

    /// Opens a SQL dump of an external source in its own dialect (see [`crate::dump`]).
    ///
    /// # Errors
    /// `0A000` on SQLite (its dump is the gateway's); `08006`/`53300` when no connection
    /// can be had; the server's errors.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub async fn open_dump(&self) -> Result<crate::dump::AnyDump, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(_) => Err(crate::dump::unsupported(
                "a DumpSource of the embedded database is not supported",
            )),
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => Ok(crate::dump::AnyDump::Postgres(b.open_dump().await?)),
            #[cfg(feature = "mysql")]
            AnyBackend::MySql(b) => Ok(crate::dump::AnyDump::MySql(b.open_dump().await?)),
        }
    }

    /// Opens a script load of an external source (see [`crate::dump`]).
    ///
    /// # Errors
    /// As [`AnyBackend::open_dump`].
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub async fn open_load(&self) -> Result<crate::dump::AnyLoad, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(_) => Err(crate::dump::unsupported(
                "loading a script through AnyLoad into the embedded database is not supported",
            )),
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => Ok(crate::dump::AnyLoad::Postgres(b.open_load().await?)),
            #[cfg(feature = "mysql")]
            AnyBackend::MySql(b) => Ok(crate::dump::AnyLoad::MySql(b.open_load().await?)),
        }
    }

    /// Stops the backend: running plans end, threads or pools close.
    pub async fn shutdown(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(b) => b.shutdown().await,
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(b) => b.shutdown().await,
            #[cfg(feature = "mysql")]
            AnyBackend::MySql(b) => b.shutdown().await,
        }
    }
}

impl AnySession {
    /// Runs a plan in the session; see each session type's `execute`.
    ///
    /// # Errors
    /// [`Error::Closed`] when the backend is shutting down.
    pub async fn execute(&mut self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        match self {
            #[cfg(feature = "sqlite")]
            AnySession::Sqlite(s) => s.execute(plan, opts).await,
            #[cfg(feature = "postgres")]
            AnySession::Postgres(s) => s.execute(plan, opts).await,
            #[cfg(feature = "mysql")]
            AnySession::MySql(s) => s.execute(plan, opts).await,
        }
    }

    /// The transaction state after the last finished plan.
    #[must_use]
    pub fn txn_state(&self) -> TxnState {
        match self {
            #[cfg(feature = "sqlite")]
            AnySession::Sqlite(s) => s.txn_state(),
            #[cfg(feature = "postgres")]
            AnySession::Postgres(s) => s.txn_state(),
            #[cfg(feature = "mysql")]
            AnySession::MySql(s) => s.txn_state(),
        }
    }

    /// Ends the session, rolling back an open transaction.
    pub async fn close(self) {
        match self {
            #[cfg(feature = "sqlite")]
            AnySession::Sqlite(s) => s.close().await,
            #[cfg(feature = "postgres")]
            AnySession::Postgres(s) => s.close().await,
            #[cfg(feature = "mysql")]
            AnySession::MySql(s) => s.close().await,
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteBackend> for AnyBackend {
    fn from(b: SqliteBackend) -> Self {
        AnyBackend::Sqlite(b)
    }
}

#[cfg(feature = "postgres")]
impl From<PgBackend> for AnyBackend {
    fn from(b: PgBackend) -> Self {
        AnyBackend::Postgres(b)
    }
}

#[cfg(feature = "mysql")]
impl From<MySqlBackend> for AnyBackend {
    fn from(b: MySqlBackend) -> Self {
        AnyBackend::MySql(b)
    }
}
