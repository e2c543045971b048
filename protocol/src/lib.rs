//! `starbase-protocol`: the pure layer of Starbase.
//!
//! Values, parameters, plans, SQLSTATEs, the client-facing error and StarbaseDB's JSON
//! shapes. No I/O, no async runtime, no drivers: everything here is unit-testable and fuzzable.
//!
//! Layout:
//! - [`value`]: `Value`, `Column`, JSON encoding of values;
//! - [`pgtype`]: PostgreSQL's built-in types (OIDs, names, declared-type mapping);
//! - [`params`]: `Params` and placeholder binding rules;
//! - [`plan`]: `Plan`, `Statement`, `StmtKind`;
//! - [`sql`]: statement classification and the PostgreSQL-dialect translation to SQLite
//!   ([`sql::pg`]);
//! - [`sqlstate`], [`error`]: the error model;
//! - [`api`]: StarbaseDB request/response DTOs.

pub mod access;
pub mod api;
pub mod csv;
pub mod error;
pub mod params;
pub mod pgtype;
pub mod plan;
pub mod sql;
pub mod sqlstate;
pub mod value;

pub use access::AccessRule;
pub use error::{DbError, ErrorObject, Severity};
pub use params::{Params, Placeholder};
pub use pgtype::PgType;
pub use plan::{Dialect, ExecMode, Plan, Statement, StmtKind, TxnControl};
pub use sqlstate::SqlState;
pub use value::{Column, ColumnOrigin, ColumnType, Row, Value};
