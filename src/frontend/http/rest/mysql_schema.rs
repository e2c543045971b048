//! What the import routes know about a table of an external MySQL/MariaDB source, read from
//! `information_schema` (the connection's database only).
//!
//! Owns the catalog query; it produces the same `TableInfo` as SQLite's (quoted with
//! backticks), with column types left `Unknown` so values are bound as they come and the
//! server converts them. Must not know HTTP.

use starbase_protocol::{
    ColumnType, DbError, Dialect, ExecMode, Params, Plan, Row, SqlState, Statement, Value,
};

use super::schema::{ColumnInfo, TableInfo, collect};
use crate::auth::Principal;
use crate::engine::{Engine, Target};

/// Every column of a table or view of the connection's database, with its position in the
/// primary key (0 when not part of it) and its default.
const COLUMNS: &str = "SELECT c.table_schema, c.column_name, COALESCE(s.seq_in_index, 0), \
     c.column_default \
     FROM information_schema.columns c \
     LEFT JOIN information_schema.statistics s ON s.table_schema = c.table_schema \
     AND s.table_name = c.table_name AND s.column_name = c.column_name \
     AND s.index_name = 'PRIMARY' \
     WHERE c.table_schema = DATABASE() AND c.table_name = $1 \
     ORDER BY c.ordinal_position";

fn text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(Value::Bytes(b)) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

/// Looks a table of the connection's database up.
///
/// # Errors
/// `42P01` when there is no such table or view.
pub(super) async fn table(
    engine: &Engine,
    principal: &Principal,
    target: &Target,
    name: &str,
) -> Result<TableInfo, DbError> {
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(
            COLUMNS,
            Dialect::MySql,
            Params::Positional(vec![Value::Text(name.to_owned())]),
        )],
    };
    let stream = engine
        .execute_on(principal, target, plan)
        .await
        .map_err(|e| e.to_client())?;
    let rows = collect(stream).await?;
    let Some(first) = rows.first() else {
        return Err(DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        ));
    };
    let schema = text(first, 0).unwrap_or_default();
    let columns = rows
        .iter()
        .map(|r| ColumnInfo {
            name: text(r, 1).unwrap_or_default(),
            ty: ColumnType::Unknown,
            pk: match r.get(2) {
                Some(Value::Int(i)) => *i,
                _ => 0,
            },
            default: text(r, 3),
        })
        .collect();
    Ok(TableInfo {
        schema,
        name: name.to_owned(),
        columns,
        target: target.clone(),
        dialect: Dialect::MySql,
    })
}
