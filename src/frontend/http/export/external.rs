//! Table exports from external sources: finding the table in the server's own catalog and
//! quoting it in the server's dialect.
//!
//! Owns the catalog lookup (PostgreSQL: a relation visible on the `search_path`; MySQL: a
//! table of the connection's database) and the quoted name of the `SELECT *` the export
//! streams. Nothing the client sends is pasted into SQL unless the catalog returned it. Must
//! not know how rows are encoded.

use axum::http::StatusCode;
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, SqlState, Statement, Value};

use crate::auth::Principal;
use crate::engine::{Engine, Target};
use crate::frontend::http::error::ApiError;
use crate::frontend::http::rest::schema::collect;

/// PostgreSQL: tables, views, materialized views, partitioned and foreign tables visible on
/// the search path; the first in path order wins, as an unqualified name would resolve.
const PG_LOOKUP: &str = "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
     AND pg_catalog.pg_table_is_visible(c.oid)";
/// MySQL: base tables and views of the connection's database.
const MYSQL_LOOKUP: &str = "SELECT table_schema, table_name FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_name = $1";

/// The exact name of `table` on `target`, and `SELECT *` of it quoted for the server.
///
/// # Errors
/// `404`/`42P01` when the table does not exist; the server's errors otherwise.
pub(super) async fn select_all(
    engine: &Engine,
    principal: &Principal,
    target: &Target,
    table: &str,
) -> Result<(String, String), ApiError> {
    let dialect = engine.dialect(target);
    let lookup = match dialect {
        Dialect::MySql => MYSQL_LOOKUP,
        Dialect::Postgres | Dialect::Sqlite => PG_LOOKUP,
    };
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(
            lookup,
            dialect,
            Params::Positional(vec![Value::Text(table.to_owned())]),
        )],
    };
    let stream = engine.execute_on(principal, target, plan).await?;
    let rows = collect(stream).await?;
    let found = rows
        .first()
        .and_then(|row| match (row.first(), row.get(1)) {
            (Some(Value::Text(schema)), Some(Value::Text(name))) => {
                Some((schema.clone(), name.clone()))
            }
            _ => None,
        });
    let Some((schema, name)) = found else {
        return Err(ApiError::with_status(
            StatusCode::NOT_FOUND,
            DbError::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{table}\" does not exist"),
            ),
        ));
    };
    let quote = |ident: &str| match dialect {
        Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
    };
    let sql = format!("SELECT * FROM {}.{}", quote(&schema), quote(&name));
    Ok((name, sql))
}
