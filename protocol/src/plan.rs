//! The backend-agnostic plan: what every frontend request turns into.
//!
//! Owns `Plan`, `Statement`, `StmtKind`, `Dialect` and `ExecMode`. A plan is deliberately
//! thin: SQL text as the client wrote it, a classification, and typed params. Must not know
//! any frontend or driver.

use std::sync::Arc;

use crate::AccessRule;
use crate::params::Params;
use crate::sql::classify;

/// The SQL dialect a statement was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL (pgwire clients).
    Postgres,
    /// SQLite (StarbaseDB's HTTP/WS API).
    Sqlite,
    /// MySQL / MariaDB.
    MySql,
}

/// Transaction-control statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnControl {
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` (without `TO`).
    Rollback,
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO`.
    Savepoint,
}

/// What a statement does, as far as the text tells. Routing uses it as a hint only: the
/// backend confirms read-only-ness on the prepared statement before trusting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StmtKind {
    /// Reads only (`SELECT`, `VALUES`, `WITH … SELECT`, `EXPLAIN`).
    Read,
    /// Changes rows (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `WITH … INSERT`).
    Write,
    /// Changes schema (`CREATE`, `ALTER`, `DROP`, …).
    Ddl,
    /// Transaction control.
    Transaction(TxnControl),
    /// Anything else (`PRAGMA`, `VACUUM`, `ATTACH`, `SET`, …).
    Other,
}

/// One statement of a plan.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Text as written by the client, in `dialect`.
    pub sql: Arc<str>,
    /// The dialect of `sql`.
    pub dialect: Dialect,
    /// Classification from the text.
    pub kind: StmtKind,
    /// Parameters to bind.
    pub params: Params,
    /// For a restricted caller's statement: what it may touch, enforced again by backends
    /// that can watch it run (SQLite's authorizer). `None`: unrestricted.
    pub access: Option<Arc<AccessRule>>,
}

impl Statement {
    /// Builds a statement, classifying its text.
    #[must_use]
    pub fn new(sql: impl Into<Arc<str>>, dialect: Dialect, params: Params) -> Self {
        let sql = sql.into();
        let kind = classify::classify(&sql);
        Self {
            sql,
            dialect,
            kind,
            params,
            access: None,
        }
    }
}

/// How the steps of a plan run together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecMode {
    /// One statement (text that may hold several, as SQLite's `exec`), autocommit.
    Single,
    /// In order; stop at the first error; each statement commits on its own.
    Batch,
    /// All or nothing: BEGIN … COMMIT, ROLLBACK on the first error.
    Transaction,
    /// Prepare every statement without running it and report its result columns: for each
    /// statement `Columns` then `Done` with zero counts (the extended query protocol's
    /// Parse/Describe). Parameters are not needed.
    Describe,
}

/// A request, ready for the engine.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How the steps run together.
    pub mode: ExecMode,
    /// The statements, in order.
    pub steps: Vec<Statement>,
}

impl Plan {
    /// True when every step is classified as a read, or the plan only describes.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.mode == ExecMode::Describe || self.steps.iter().all(|s| s.kind == StmtKind::Read)
    }
}
