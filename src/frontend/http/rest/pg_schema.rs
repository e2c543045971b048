//! What the REST routes know about a table of an external PostgreSQL source, read from the
//! server's own catalog (`pg_class`, `pg_attribute`, `pg_index`, `pg_attrdef`).
//!
//! Owns the catalog queries; they produce the same `TableInfo` as SQLite's, so the REST
//! statements (`$n` placeholders, double-quoted names, `RETURNING *`) run unchanged. Column
//! types are left `Unknown`, so filter values are sent as text and the server parses them for
//! the column's type (a bad one is the server's own `22P02`). Must not know HTTP.

use starbase_protocol::{ColumnType, Dialect};
use starbase_protocol::{DbError, SqlState, Value};

use super::schema::{ColumnInfo, TableInfo, catalog_query, catalog_text};
use crate::auth::Principal;
use crate::engine::{Engine, Target};

/// Every column of a table or view: visible on the `search_path` when `$2` is NULL, else in
/// schema `$2`; with its position in the primary key (1-based, 0 when not part of it; the
/// ordinality, because `int2vector` subscripts start at 0) and its default.
const COLUMNS: &str = "SELECT n.nspname::text, a.attname::text, \
     COALESCE((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
     WHERE k.attnum = a.attnum), 0)::int8, \
     pg_catalog.pg_get_expr(d.adbin, d.adrelid) \
     FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
     LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary \
     LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
     WHERE c.relname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
     AND CASE WHEN $2::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) \
     ELSE n.nspname = $2::text END \
     ORDER BY a.attnum";

/// The schema names of the server's database.
pub(super) async fn schemas(
    engine: &Engine,
    principal: &Principal,
    target: &Target,
) -> Result<Vec<String>, DbError> {
    let sql = "SELECT nspname::text FROM pg_catalog.pg_namespace";
    let rows = catalog_query(engine, principal, target, Dialect::Postgres, sql, vec![]).await?;
    Ok(rows.iter().filter_map(|r| catalog_text(r, 0)).collect())
}

/// Looks a table up: in `schema`, or the one an unqualified name resolves to.
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
    let params = vec![
        Value::Text(name.to_owned()),
        schema.map_or(Value::Null, |s| Value::Text(s.to_owned())),
    ];
    let rows = catalog_query(
        engine,
        principal,
        target,
        Dialect::Postgres,
        COLUMNS,
        params,
    )
    .await?;
    let Some(first) = rows.first() else {
        let shown = schema.map_or_else(|| name.to_owned(), |s| format!("{s}.{name}"));
        return Err(DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{shown}\" does not exist"),
        ));
    };
    let schema = catalog_text(first, 0).unwrap_or_default();
    let columns = rows
        .iter()
        .map(|r| ColumnInfo {
            name: catalog_text(r, 1).unwrap_or_default(),
            ty: ColumnType::Unknown,
            pk: match r.get(2) {
                Some(Value::Int(i)) => *i,
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
        dialect: Dialect::Postgres,
    })
}
