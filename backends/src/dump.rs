//! SQL dumps and loads of external servers, in the server's own dialect: the `DumpSource`
//! and `DumpLoad` traits and the enums dispatching to PostgreSQL and MySQL.
//!
//! Owns the contract a dump pipeline (the streamed `GET /export/dump`, the asynchronous dump
//! jobs) relies on:
//! - a `DumpSource` is one pinned connection inside one read-only snapshot transaction;
//!   everything it returns (catalog, DDL, rows) comes from that snapshot;
//! - [`DumpSource::prologue`], every table's [`DumpSource::ddl`], every table's rows
//!   ([`DumpSource::scan`]) and [`DumpSource::epilogue`], concatenated in that order, are a
//!   script the server's own command-line client loads into an empty database;
//! - rows are scanned in key order after a [`DumpKey`] (keyset paging, never `OFFSET`) and
//!   written to a [`DumpSink`] as they are read, so memory holds one batch whatever the
//!   table's size: on PostgreSQL as one `COPY … FROM stdin;` block of `COPY` text lines per
//!   table (as `pg_dump` writes them; the scans of one table join into that block), on
//!   MySQL as multi-row `INSERT` statements.
//!
//! A `DumpLoad` is the other direction: one pinned connection inside one transaction that
//! runs the statements a splitter cut from an uploaded script (and, on PostgreSQL, `COPY …
//! FROM stdin` data). Dropping either without `close`/`commit` closes the connection
//! instead of pooling it (the server rolls back). Must not know any frontend, and must not
//! parse SQL beyond what the splitters need.

use std::future::Future;

use bytes::Bytes;
use starbase_protocol::{DbError, Dialect, SqlState};

use crate::error::Error;
#[cfg(feature = "mysql")]
use crate::mysql::dump::{MySqlDump, MySqlLoad};
#[cfg(feature = "postgres")]
use crate::postgres::dump::{PgDump, PgLoad};

/// Rows per `INSERT` statement and keyset page (MySQL), and at most per write to a sink.
pub const DUMP_BATCH_ROWS: usize = 500;

/// A table to dump, as the snapshot's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpTable {
    /// The schema (PostgreSQL) or `None` (MySQL: the connection's database).
    pub schema: Option<String>,
    /// The table's name, unquoted.
    pub name: String,
    /// The columns an `INSERT` or `COPY` names (generated columns are left out), in order.
    pub columns: Vec<String>,
    /// The key rows are scanned in; `None` when the table has none (no primary key, or on
    /// PostgreSQL one with a generated column): one streamed pass, not resumable.
    pub key: Option<Vec<String>>,
    /// Backend-private facts (column renderers, identity kind).
    pub(crate) detail: TableDetail,
}

/// What only the backend that listed a table needs to scan it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TableDetail {
    /// PostgreSQL: the table's oid.
    pub(crate) oid: u32,
    /// PostgreSQL: where each key column is among `columns` (its field in a `COPY` line).
    pub(crate) key_fields: Vec<usize>,
    /// PostgreSQL: each key column's type (`format_type`), cast to in a page's key literals.
    pub(crate) key_types: Vec<String>,
    /// MySQL: how each column's text is written as a literal.
    pub(crate) kinds: Vec<LiteralKind>,
}

/// How a MySQL column's text value becomes a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) enum LiteralKind {
    /// Numbers: as the server sent them.
    Bare,
    /// Binary strings: `0x…` (`''` when empty).
    Hex,
    /// Everything else: a quoted string with backslash escapes.
    Quoted,
}

/// Where a scan resumes: after the row with this key. Opaque; the text is a list of
/// literals in the server's dialect that the source itself rendered (PostgreSQL:
/// `'…'::type, …`), so it can be stored in a checkpoint and given back to a scan of the
/// same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpKey(pub(crate) String);

impl DumpKey {
    /// The key as text, for a checkpoint.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from a checkpoint written with [`DumpKey::as_str`].
    #[must_use]
    pub fn from_checkpoint(text: String) -> Self {
        Self(text)
    }
}

/// How a scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEnd {
    /// Rows written to the sink.
    pub rows: u64,
    /// The key of the last row written (`None` when no row was, or the table has no key).
    pub last_key: Option<DumpKey>,
    /// True when the table has no more rows after `last_key`.
    pub complete: bool,
}

/// Receives a dump's text, in pieces that end at a statement or data line, with
/// backpressure.
pub trait DumpSink: Send {
    /// Takes one or more complete statements or `COPY` data lines holding `rows` table rows
    /// (0 for DDL). The pieces of one table's rows join into valid SQL only together (a
    /// `COPY` block's header comes with its first rows, its `\.` with its last).
    ///
    /// # Errors
    /// Whatever stops the dump (the reader went away); the scan ends with it.
    fn write(&mut self, sql: String, rows: u64) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A consistent snapshot of one external database, read in dump order (see the module
/// doc). Implemented by `PgDump` and `MySqlDump`; [`AnyDump`] dispatches.
pub trait DumpSource: Send {
    /// The dialect of everything it renders.
    fn dialect(&self) -> Dialect;

    /// How many rows a job should ask of one `scan` when its pages are `chunk` rows: a
    /// source whose scans stream (PostgreSQL's `COPY`) reads larger pages, since each
    /// statement costs a round trip and a plan; the job still paces itself every `chunk`
    /// rows as they arrive.
    fn page_rows(&self, chunk: u64) -> u64 {
        chunk
    }

    /// The tables to dump, in creation order.
    ///
    /// # Errors
    /// `0A000` naming an object the dump cannot reproduce; the server's errors.
    fn tables(&mut self) -> impl Future<Output = Result<Vec<DumpTable>, Error>> + Send;

    /// Session settings, `BEGIN`, and what tables depend on (schemas, types, functions,
    /// sequences).
    ///
    /// # Errors
    /// `0A000` for an unsupported object; the server's errors.
    fn prologue(&mut self) -> impl Future<Output = Result<String, Error>> + Send;

    /// `CREATE TABLE` for `table` (keys, unique and check constraints, defaults; foreign
    /// keys come in the epilogue on PostgreSQL, inline on MySQL).
    ///
    /// # Errors
    /// The server's errors.
    fn ddl(&mut self, table: &DumpTable) -> impl Future<Output = Result<String, Error>> + Send;

    /// Writes the rows of `table` after `after` (from the first row when `None`) in key
    /// order to `sink`, stopping after about `max_rows` rows (`None`: the whole table). A
    /// table without a key (`key == None`) is written in one pass whatever `max_rows`, and
    /// `last_key` is `None` then.
    ///
    /// PostgreSQL writes `COPY` text lines: the `COPY … FROM stdin;` header when `after` is
    /// `None` and the `\.` line when the table ends, so the scans of a table concatenated
    /// are one block (an empty table is a header and `\.`), and stops after exactly
    /// `max_rows`. MySQL writes `INSERT` statements of at most [`DUMP_BATCH_ROWS`] rows and
    /// stops after a whole batch.
    ///
    /// # Errors
    /// The server's errors, or the sink's.
    fn scan<S: DumpSink>(
        &mut self,
        table: &DumpTable,
        after: Option<&DumpKey>,
        max_rows: Option<u64>,
        sink: &mut S,
    ) -> impl Future<Output = Result<ScanEnd, Error>> + Send;

    /// What comes after the data: sequence values, foreign keys, indexes, views, triggers,
    /// `COMMIT`.
    ///
    /// # Errors
    /// The server's errors.
    fn epilogue(&mut self) -> impl Future<Output = Result<String, Error>> + Send;

    /// Ends the snapshot and returns (or closes) the connection.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// A dump of any external backend.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One per dump; boxing would buy nothing.
#[non_exhaustive]
pub enum AnyDump {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgDump),
    /// MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    MySql(MySqlDump),
}

macro_rules! dispatch {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            AnyDump::Postgres($d) => $e,
            #[cfg(feature = "mysql")]
            AnyDump::MySql($d) => $e,
        }
    };
}

impl DumpSource for AnyDump {
    fn dialect(&self) -> Dialect {
        dispatch!(self, d => d.dialect())
    }

    fn page_rows(&self, chunk: u64) -> u64 {
        dispatch!(self, d => d.page_rows(chunk))
    }

    async fn tables(&mut self) -> Result<Vec<DumpTable>, Error> {
        dispatch!(self, d => d.tables().await)
    }

    async fn prologue(&mut self) -> Result<String, Error> {
        dispatch!(self, d => d.prologue().await)
    }

    async fn ddl(&mut self, table: &DumpTable) -> Result<String, Error> {
        dispatch!(self, d => d.ddl(table).await)
    }

    async fn scan<S: DumpSink>(
        &mut self,
        table: &DumpTable,
        after: Option<&DumpKey>,
        max_rows: Option<u64>,
        sink: &mut S,
    ) -> Result<ScanEnd, Error> {
        dispatch!(self, d => d.scan(table, after, max_rows, sink).await)
    }

    async fn epilogue(&mut self) -> Result<String, Error> {
        dispatch!(self, d => d.epilogue().await)
    }

    async fn close(self) {
        dispatch!(self, d => d.close().await)
    }
}

/// One transaction loading a script into an external database (see the module doc).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One per import; boxing would buy nothing.
#[non_exhaustive]
pub enum AnyLoad {
    /// PostgreSQL: transactional DDL, all or nothing.
    #[cfg(feature = "postgres")]
    Postgres(PgLoad),
    /// MySQL or MariaDB: DDL commits implicitly.
    #[cfg(feature = "mysql")]
    MySql(MySqlLoad),
}

impl AnyLoad {
    /// Runs one statement of the script.
    ///
    /// # Errors
    /// The server's error for it.
    pub async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            #[cfg(feature = "postgres")]
            AnyLoad::Postgres(l) => l.execute(sql).await,
            #[cfg(feature = "mysql")]
            AnyLoad::MySql(l) => l.execute(sql).await,
        }
    }

    /// Starts `COPY … FROM stdin` (PostgreSQL only).
    ///
    /// # Errors
    /// The server's error; `0A000` on MySQL.
    pub async fn copy_start(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            #[cfg(feature = "postgres")]
            AnyLoad::Postgres(l) => l.copy_start(sql).await,
            #[cfg(feature = "mysql")]
            AnyLoad::MySql(_) => Err(DbError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "COPY … FROM stdin is not supported on MySQL: {}",
                    first_keyword(sql)
                ),
            )),
        }
    }

    /// Sends data of the running `COPY`.
    ///
    /// # Errors
    /// The server's error (bad data ends the copy).
    pub async fn copy_data(&mut self, data: Bytes) -> Result<(), DbError> {
        match self {
            #[cfg(feature = "postgres")]
            AnyLoad::Postgres(l) => l.copy_data(data).await,
            #[cfg(feature = "mysql")]
            AnyLoad::MySql(_) => {
                drop(data);
                Ok(())
            }
        }
    }

    /// Ends the running `COPY`; returns the rows it loaded.
    ///
    /// # Errors
    /// The server's error for the data.
    pub async fn copy_finish(&mut self) -> Result<u64, DbError> {
        match self {
            #[cfg(feature = "postgres")]
            AnyLoad::Postgres(l) => l.copy_finish().await,
            #[cfg(feature = "mysql")]
            AnyLoad::MySql(_) => Ok(0),
        }
    }

    /// Commits and closes the connection (its session settings die with it).
    ///
    /// # Errors
    /// The server's commit error (a deferred constraint).
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            #[cfg(feature = "postgres")]
            AnyLoad::Postgres(l) => l.commit().await,
            #[cfg(feature = "mysql")]
            AnyLoad::MySql(l) => l.commit().await,
        }
    }

    /// Rolls back what the backend can roll back and closes the connection.
    pub async fn rollback(self) {
        match self {
            #[cfg(feature = "postgres")]
            AnyLoad::Postgres(l) => l.rollback().await,
            #[cfg(feature = "mysql")]
            AnyLoad::MySql(l) => l.rollback().await,
        }
    }
}

/// `"ident"` with double quotes doubled (PostgreSQL).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn pg_ident(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

/// `` `ident` `` with backticks doubled (MySQL).
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn my_ident(out: &mut String, s: &str) {
    out.push('`');
    out.push_str(&s.replace('`', "``"));
    out.push('`');
}

/// `0A000` naming what a dump cannot reproduce.
pub(crate) fn unsupported(what: impl Into<String>) -> Error {
    Error::Db(DbError::new(SqlState::FEATURE_NOT_SUPPORTED, what.into()))
}

/// One piece of a script, as a splitter cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptItem {
    /// A statement, trimmed, without its terminator.
    Statement(String),
    /// PostgreSQL: `COPY … FROM stdin`; its data lines follow.
    CopyStart(String),
    /// PostgreSQL: complete data lines of the running `COPY` (each ends with `\n`).
    CopyData(String),
    /// PostgreSQL: the `\.` line (or the end of the script) ending the `COPY` data.
    CopyEnd,
    /// PostgreSQL: a `psql` meta-command line (`\restrict …`), without its newline.
    Meta(String),
}

/// The first keyword of a statement, upper-cased, after comments and whitespace (`--`,
/// `#`, `/* */`; an executable `/*! … */` comment counts as a comment).
#[must_use]
pub fn first_keyword(sql: &str) -> String {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--").or_else(|| rest.strip_prefix('#')) {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    rest.chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect::<String>()
        .to_ascii_uppercase()
}
