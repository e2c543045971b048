//! The PostgreSQL-dialect front half of the pgwire gateway over SQLite: splits a client's
//! text into statements and turns each into SQLite text (or a session command the frontend
//! handles itself), with inferred parameter and result types.
//!
//! Owns the public translation types and [`translate`]. Pure: no I/O, no async, never panics
//! on any input. Must not know pgwire, the session's storage of settings, or any driver; what
//! it needs of the session and schema comes in through [`SessionContext`] and
//! [`SchemaLookup`].
//!
//! Per statement (`statement`): the lexer (`lex`) splits the text and scans `$n`;
//! transaction control and SET/RESET/SHOW are read from tokens (`control`, `control_set`);
//! everything else is parsed with sqlparser's PostgreSQL dialect. What does not parse is
//! SQLite's own SQL (or a syntax error SQLite reports): it passes through untouched. Parsed
//! statements are checked (`ddl`), typed on the client's AST (`infer`, `columns`, `scope`,
//! `types`), rewritten (`ddl`, `table_ddl`, `rewrite` with `casts`, `operators`,
//! `functions`, `portable`, `clauses`, `arrays`,
//! `from_functions`, `session_relations`) and printed only when a rewrite changed something.

mod arrays;
mod bytea;
mod calls;
mod casts;
mod clauses;
mod columns;
mod control;
mod control_set;
mod ddl;
mod from_functions;
mod functions;
mod infer;
mod intervals;
mod lex;
mod mysql;
mod operators;
mod pipeline;
mod pooling;
mod portable;
mod rewrite;
mod scope;
mod session_relations;
mod shape;
mod split;
mod statement;
mod table_ddl;
mod tag;
mod types;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use self::mysql::to_mysql;
pub use self::pipeline::pipeline_safe;
pub use self::pooling::{SessionEffect, session_effects};
pub use self::session_relations::PG_DATABASE_COLUMNS;
pub use self::shape::{Shape, shape};

use crate::error::DbError;
use crate::pgtype::PgType;
use crate::plan::StmtKind;

/// What the frontend knows about the session, for inlining session functions.
pub struct SessionContext<'a> {
    /// `current_database()`.
    pub database: &'a str,
    /// `current_user`, `session_user`.
    pub user: &'a str,
    /// `pg_backend_pid()`.
    pub backend_pid: i32,
    /// Current value of a setting (lowercase name) as SHOW prints it; None = unknown setting.
    pub setting: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for SessionContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionContext")
            .field("database", &self.database)
            .field("user", &self.user)
            .field("backend_pid", &self.backend_pid)
            .finish_non_exhaustive()
    }
}

/// One column of a table or view of the embedded database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaColumn {
    /// Column name.
    pub name: String,
    /// Declared type, as SQLite reports it.
    pub decl: Option<String>,
    /// `NOT NULL`.
    pub not_null: bool,
    /// Part of the primary key.
    pub pk: bool,
}

/// Table name (ASCII case-insensitive) → its columns in order.
pub trait SchemaLookup {
    /// The columns of `table`, or `None` when there is no such table or view.
    fn columns(&self, table: &str) -> Option<&[SchemaColumn]>;
}

/// A schema that knows nothing (every parameter and column type is inferred from the text).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSchema;

impl SchemaLookup for NoSchema {
    fn columns(&self, _table: &str) -> Option<&[SchemaColumn]> {
        None
    }
}

/// An in-memory schema: tables and their columns.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    tables: HashMap<String, Vec<SchemaColumn>>,
}

impl Schema {
    /// A schema of these tables (names folded to ASCII lowercase).
    #[must_use]
    pub fn new(tables: Vec<(String, Vec<SchemaColumn>)>) -> Self {
        Self {
            tables: tables
                .into_iter()
                .map(|(name, cols)| (name.to_ascii_lowercase(), cols))
                .collect(),
        }
    }
}

impl SchemaLookup for Schema {
    fn columns(&self, table: &str) -> Option<&[SchemaColumn]> {
        self.tables
            .get(&table.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// One translated statement.
#[derive(Debug, Clone, PartialEq)]
pub enum PgStatement {
    /// Run this on SQLite.
    Query(Translated),
    /// SET / RESET (the frontend keeps settings).
    Set(SetCommand),
    /// `SELECT set_config('name', 'value', is_local)` as the whole statement: apply the
    /// command (always [`SetCommand::Value`]), then return one row with one text column
    /// named `set_config` holding the value.
    SetConfig(SetCommand),
    /// SHOW name: lowercase setting name; "all" for SHOW ALL; "transaction_isolation" for
    /// SHOW TRANSACTION ISOLATION LEVEL.
    Show(String),
    /// `SELECT pg_advisory_lock(k)` and friends, when that call is the whole statement.
    Advisory(Advisory),
    /// `SELECT pg_advisory_lock($1)` (or `($1, $2)`) as the whole statement: the key comes
    /// from the bound parameters ([`AdvisoryParams::bind`]). The call returns what the
    /// literal form returns.
    AdvisoryParams(AdvisoryParams),
    /// Nothing but comments/semicolons.
    Empty,
}

/// A statement to run on SQLite.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// SQLite text to run; byte-for-byte the client's text of this statement when nothing
    /// needed translating (from its first token to its last: without the `;` and the
    /// whitespace and comments around it). Parameters stay `$n` (SQLite binds them by name).
    pub sql: String,
    /// Classification of the statement.
    pub kind: StmtKind,
    /// CommandComplete tag as PostgreSQL prints it, without the row count.
    pub tag: String,
    /// Whether the frontend appends a row count to `tag`.
    pub tag_counts_rows: bool,
    /// Inferred type of $1..$n (len = highest $n used); `PgType::Unknown` where nothing is
    /// known.
    pub params: Vec<PgType>,
    /// Inferred type per result column when the column list is known from the text; empty
    /// when not determinable. `PgType::Unknown` for a plain column reference (the frontend
    /// uses SQLite's declared type) or unknown expressions.
    pub columns: Vec<PgType>,
}

/// A SET / RESET command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCommand {
    /// SET [SESSION|LOCAL] name {=|TO} value (value as SHOW would print it: unquoted, lists
    /// joined with ", ").
    Value {
        /// Lowercase setting name.
        name: String,
        /// The value as SHOW prints it.
        value: String,
        /// `SET LOCAL` (until the end of the transaction).
        local: bool,
    },
    /// SET name TO DEFAULT / RESET name.
    Default {
        /// Lowercase setting name.
        name: String,
        /// `SET LOCAL`.
        local: bool,
    },
    /// RESET ALL.
    ResetAll,
    /// Several settings at once, in order (`SET TRANSACTION ISOLATION LEVEL … READ ONLY`).
    Several(Vec<SetCommand>),
}

/// An advisory-lock call that is the whole statement. Two-int4 forms `(k1, k2)` combine as
/// `(k1 << 32) | (k2 as u32)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advisory {
    /// `pg_advisory_lock(k)`.
    Lock(i64),
    /// `pg_try_advisory_lock(k)`.
    TryLock(i64),
    /// `pg_advisory_unlock(k)`.
    Unlock(i64),
    /// `pg_advisory_unlock_all()`.
    UnlockAll,
    /// `pg_advisory_xact_lock(k)`.
    XactLock(i64),
    /// `pg_try_advisory_xact_lock(k)`.
    TryXactLock(i64),
}

/// Which advisory-lock function a call names (all but `pg_advisory_unlock_all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryCall {
    /// `pg_advisory_lock`.
    Lock,
    /// `pg_try_advisory_lock`.
    TryLock,
    /// `pg_advisory_unlock`.
    Unlock,
    /// `pg_advisory_xact_lock`.
    XactLock,
    /// `pg_try_advisory_xact_lock`.
    TryXactLock,
}

impl AdvisoryCall {
    /// The call with its key.
    #[must_use]
    pub fn with_key(self, key: i64) -> Advisory {
        match self {
            AdvisoryCall::Lock => Advisory::Lock(key),
            AdvisoryCall::TryLock => Advisory::TryLock(key),
            AdvisoryCall::Unlock => Advisory::Unlock(key),
            AdvisoryCall::XactLock => Advisory::XactLock(key),
            AdvisoryCall::TryXactLock => Advisory::TryXactLock(key),
        }
    }
}

/// An advisory-lock call whose key is given as parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryParams {
    /// The function.
    pub call: AdvisoryCall,
    /// The 1-based parameter numbers holding the key: one (an int8 key) or two (int4 halves).
    pub params: Vec<usize>,
}

impl AdvisoryParams {
    /// The types of `$1..$n` for ParameterDescription (int8 for the one-key form, int4 for
    /// the halves, unknown for numbers the call does not use).
    #[must_use]
    pub fn param_types(&self) -> Vec<PgType> {
        let len = self.params.iter().copied().max().unwrap_or(0);
        let ty = if self.params.len() == 1 {
            PgType::Int8
        } else {
            PgType::Int4
        };
        let mut types = vec![PgType::Unknown; len];
        for &n in &self.params {
            if let Some(slot) = n.checked_sub(1).and_then(|i| types.get_mut(i)) {
                *slot = ty;
            }
        }
        types
    }

    /// The call once the parameters are bound (`values[i]` is `$i+1`); `None` when one is
    /// missing or a half does not fit an int4.
    #[must_use]
    pub fn bind(&self, values: &[i64]) -> Option<Advisory> {
        let value = |n: usize| n.checked_sub(1).and_then(|i| values.get(i)).copied();
        let key = match self.params.as_slice() {
            [k] => value(*k)?,
            [k1, k2] => calls::two_int4_key(
                i32::try_from(value(*k1)?).ok()?,
                i32::try_from(value(*k2)?).ok()?,
            ),
            _ => return None,
        };
        Some(self.call.with_key(key))
    }
}

/// Splits and translates one client text (one or several statements).
///
/// # Errors
/// - `0A000` feature_not_supported, naming the construct, for what cannot be translated;
/// - `42704` for `current_setting('unknown')` without `missing_ok`;
/// - `42601` only when the text ends inside a string, quoted identifier or comment.
pub fn translate(
    sql: &str,
    ctx: &SessionContext<'_>,
    schema: &dyn SchemaLookup,
) -> Result<Vec<PgStatement>, DbError> {
    let pieces = split::split(sql)?;
    if pieces.is_empty() {
        return Ok(vec![PgStatement::Empty]);
    }
    pieces
        .iter()
        .map(|piece| statement::translate_piece(piece, ctx, schema))
        .collect()
}
