//! What the import routes know about a table of an external MySQL/MariaDB source, read from
//! `information_schema` (the connection's database only).
//!
//! Owns the catalog query; it produces the same `TableInfo` as SQLite's (quoted with
//! backticks). Integer, boolean (`TINYINT(1)`) and floating-point columns get their type, so
//! REST filter values are bound as numbers (MySQL would read `'true'` as 0); others stay
//! `Unknown` and the server converts the text. Must not know HTTP.

use starbase_protocol::{ColumnType, DbError, Dialect, SqlState, Value};

use super::schema::{ColumnInfo, TableInfo, catalog_query, catalog_text};
use crate::auth::Principal;
use crate::engine::{Engine, Target};

/// Every column of a table or view of the connection's database, with its position in the
/// primary key (0 when not part of it) and its default.
const COLUMNS: &str = "SELECT c.table_schema, c.column_name, CAST(COALESCE(s.seq_in_index, 0) AS SIGNED), \
     c.column_default, c.column_type \
     FROM information_schema.columns c \
     LEFT JOIN information_schema.statistics s ON s.table_schema = c.table_schema \
     AND s.table_name = c.table_name AND s.column_name = c.column_name \
     AND s.index_name = 'PRIMARY' \
     WHERE c.table_schema = DATABASE() AND c.table_name = $1 \
     ORDER BY c.ordinal_position";

/// The schemas REST may name: the connection's database (MySQL's schemas are databases, and
/// a source is one database).
pub(super) async fn schemas(
    engine: &Engine,
    principal: &Principal,
    target: &Target,
) -> Result<Vec<String>, DbError> {
    let rows = catalog_query(
        engine,
        principal,
        target,
        Dialect::MySql,
        "SELECT DATABASE()",
        vec![],
    )
    .await?;
    Ok(rows.iter().filter_map(|r| catalog_text(r, 0)).collect())
}

/// Looks a table of the connection's database up (`schema`, when given, must be that
/// database).
///
/// # Errors
/// `42P01` when there is no such table or view.
pub(super) async fn table(
    engine: &Engine,
    principal: &Principal,
    target: &Target,
    schema: Option<&str>,
    name: &str,
) -> Result<TableInfo, DbError> {
    let params = vec![Value::Text(name.to_owned())];
    let rows = catalog_query(engine, principal, target, Dialect::MySql, COLUMNS, params).await?;
    let first = rows
        .first()
        .filter(|r| schema.is_none_or(|s| catalog_text(r, 0).as_deref() == Some(s)));
    let Some(first) = first else {
        return Err(DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        ));
    };
    let schema = catalog_text(first, 0).unwrap_or_default();
    let columns = rows
        .iter()
        .map(|r| ColumnInfo {
            name: catalog_text(r, 1).unwrap_or_default(),
            ty: column_type(catalog_text(r, 4).as_deref().unwrap_or_default()),
            pk: match r.get(2) {
                Some(Value::Int(i)) => *i,
                Some(Value::Numeric(n) | Value::Text(n)) => n.parse().unwrap_or(0),
                _ => 0,
            },
            default: catalog_text(r, 3),
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

/// The type REST coerces filter values to, from `information_schema.columns.column_type`.
fn column_type(declared: &str) -> ColumnType {
    let d = declared.to_ascii_lowercase();
    if d.starts_with("tinyint(1)") || d.starts_with("bool") {
        ColumnType::Bool
    } else if d.contains("int") {
        ColumnType::Int8
    } else if d.starts_with("float") || d.starts_with("double") || d.starts_with("real") {
        ColumnType::Float8
    } else {
        ColumnType::Unknown
    }
}
