//! The external PostgreSQL backend (tokio-postgres, deadpool-postgres, rustls).
//!
//! Owns the public API: `PgBackend`, `PgConfig`, `PgSession`. Plans run exactly as on the
//! embedded SQLite (same events, modes, parameter binding and transaction rules; see
//! `crate::external::run`), each on a pooled connection owned by a task of the backend.
//! Statement texts keep `$n` placeholders; `?` (in non-PostgreSQL dialects) and named
//! parameters are rewritten to `$n`. Must not know any frontend.
//!
//! Values (results; HTTP renders `Value` as documented in `starbase_protocol::value`):
//! int2/int4/int8/oid → `Int`; float4/float8 → `Float`; numeric → `Numeric` (exact text,
//! `NaN`/`Infinity` included); bool → `Bool`; text, varchar, bpchar, name, "char", xml,
//! citext and enums → `Text`; bytea → `Bytes` (`{"$blob": base64}` like SQLite's BLOBs);
//! json/jsonb → `Json`; uuid → `Text`; date → `YYYY-MM-DD`; time → `HH:MM:SS[.ffffff]`;
//! timetz → with `+HH:MM`; timestamp → `YYYY-MM-DDTHH:MM:SS[.ffffff]`; timestamptz → the
//! same **in UTC with a `Z` suffix**; interval → ISO 8601 duration (`P1Y2M3DT4H5M6.5S`);
//! ±infinity → `infinity`/`-infinity`; inet/cidr, money, bit strings → text; arrays → JSON
//! arrays; domains as their base type; anything else → its bytes as `Text` when UTF-8,
//! else `Bytes`. Columns carry the server's type name in `source_type` (`int4`, `_int4`).
//!
//! Parameters bind with the types the server inferred for them: `Int`, `Float`, `Bool`,
//! `Bytes` and `Json` go in binary to their natural types; everything else (and any value
//! for numeric, date/time, uuid, enum, array, … parameters) is sent as text for the
//! server's input function. Server errors keep their SQLSTATE and every field
//! (`DbError::object` carries schema, table, column and data type).
//!
//! Layout: `pool` (the pool and one connection), `exec` (statements on a connection),
//! `encode` (parameters), `convert` and `datetime` (results), `error` (SQLSTATEs),
//! `session` (`PgSession`).

mod convert;
mod datetime;
pub mod dump;
mod encode;
mod error;
mod exec;
mod pool;
mod session;

use starbase_protocol::Plan;

use self::pool::PgSource;
pub use self::session::PgSession;
use crate::error::Error;
use crate::external::config::ServerConfig;
pub use crate::external::{ExecOptions, SessionConfig};
use crate::result::ResultStream;

/// PostgreSQL connection settings (default port 5432).
pub type PgConfig = ServerConfig;

/// The default PostgreSQL port.
pub const DEFAULT_PORT: u16 = 5432;

/// An external PostgreSQL database. Cheap to clone; all clones share the pool.
#[derive(Debug, Clone)]
pub struct PgBackend {
    source: PgSource,
}

impl PgBackend {
    /// Sets up the pool without connecting: a server that is down makes requests fail
    /// (`08006`), not this call, and the backend recovers by itself when it comes back.
    ///
    /// # Errors
    /// `08001` when TLS cannot be set up, `22023` for an invalid pool configuration.
    pub fn connect(config: &PgConfig) -> Result<Self, Error> {
        Ok(Self {
            source: PgSource::new(config)?,
        })
    }

    /// Runs `plan` on a pooled connection and returns its result stream at once; events as
    /// for `SqliteBackend::execute`.
    ///
    /// Errors arrive on the stream and end it: `08006` when the server cannot be reached or
    /// the connection breaks, `53300` when no pooled connection frees up within the acquire
    /// timeout, `57014` for the statement timeout, `22023` for parameters, `25001` for
    /// transaction control inside a transaction plan or a transaction left open, and the
    /// server's own SQLSTATEs with all their fields. Dropping the stream cancels the
    /// statement on the server and rolls back its transaction.
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
    pub fn session(&self, config: SessionConfig) -> PgSession {
        PgSession::new(self.source.clone(), &config)
    }

    /// `host:port` of the server.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.source.0.address
    }

    /// Cancels running plans (`57P01`), waits for their tasks and closes the pool.
    pub async fn shutdown(&self) {
        self.source.0.tasks.shutdown().await;
        self.source.0.pool.close();
    }
}
