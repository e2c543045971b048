//! What the REST routes know about a table: its exact name, columns, types and primary key,
//! read from the database's own catalog (SQLite's `pragma_table_info`).
//!
//! Owns turning user-supplied names into names that exist. Nothing a client sends is pasted
//! into SQL unless it matched a name here, and then it is quoted. Must not know HTTP.

use starbase_protocol::{
    ColumnType, DbError, Dialect, ExecMode, Params, Plan, Row, SqlState, Statement, Value,
};

use crate::auth::Principal;
use crate::engine::{Engine, Target};

/// One column of a table.
#[derive(Debug, Clone)]
pub(in crate::frontend::http) struct ColumnInfo {
    /// Exact name.
    pub(in crate::frontend::http) name: String,
    /// Type by declared affinity.
    pub(in crate::frontend::http) ty: ColumnType,
    /// Position in the primary key (1-based), 0 when not part of it.
    pub(in crate::frontend::http) pk: i64,
    /// The column's default expression as stored in the schema, if any.
    pub(in crate::frontend::http) default: Option<String>,
}

/// A table as the REST routes see it.
#[derive(Debug, Clone)]
pub(in crate::frontend::http) struct TableInfo {
    /// Exact schema name (`main` for the embedded database).
    pub(in crate::frontend::http) schema: String,
    /// Exact table name.
    pub(in crate::frontend::http) name: String,
    /// Columns in table order.
    pub(in crate::frontend::http) columns: Vec<ColumnInfo>,
    /// The database holding it.
    pub(in crate::frontend::http) target: Target,
    /// That database's dialect (how names are quoted).
    pub(in crate::frontend::http) dialect: Dialect,
}

impl TableInfo {
    /// The primary key columns in key order.
    pub(in crate::frontend::http) fn primary_key(&self) -> Vec<&ColumnInfo> {
        let mut pk: Vec<&ColumnInfo> = self.columns.iter().filter(|c| c.pk > 0).collect();
        pk.sort_by_key(|c| c.pk);
        pk
    }

    /// The column with this exact name.
    ///
    /// # Errors
    /// `42703` naming the column and the table.
    pub(in crate::frontend::http) fn column(&self, name: &str) -> Result<&ColumnInfo, DbError> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            DbError::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" does not exist in table \"{}\"",
                    self.name
                ),
            )
        })
    }

    /// `"schema"."table"`, quoted for the table's database.
    pub(in crate::frontend::http) fn qualified(&self) -> String {
        format!("{}.{}", self.quote(&self.schema), self.quote(&self.name))
    }

    /// Quotes a name that is known to exist for the table's database (`` `name` `` on
    /// MySQL, `"name"` elsewhere).
    pub(in crate::frontend::http) fn quote(&self, name: &str) -> String {
        match self.dialect {
            Dialect::MySql => format!("`{}`", name.replace('`', "``")),
            Dialect::Postgres | Dialect::Sqlite => quote(name),
        }
    }
}

/// Quotes an identifier that is known to exist (doubling any `"` in it).
pub(in crate::frontend::http) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The schema names of the database (`main`, `temp`, attached ones).
pub(in crate::frontend::http) async fn schemas(
    engine: &Engine,
    principal: &Principal,
) -> Result<Vec<String>, DbError> {
    let rows = query(
        engine,
        principal,
        "SELECT name FROM pragma_database_list",
        vec![],
    )
    .await?;
    Ok(rows.into_iter().filter_map(|r| text(&r, 0)).collect())
}

/// Looks a table up.
///
/// # Errors
/// `42P01` when the schema has no such table or view (SQLite's internal tables included).
pub(in crate::frontend::http) async fn table(
    engine: &Engine,
    principal: &Principal,
    schema: &str,
    name: &str,
) -> Result<TableInfo, DbError> {
    let undefined = || {
        DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{schema}.{name}\" does not exist"),
        )
    };
    if name.starts_with("sqlite_") {
        return Err(undefined());
    }
    let rows = query(
        engine,
        principal,
        "SELECT name, type, pk, dflt_value FROM pragma_table_info($1, $2) ORDER BY cid",
        vec![Value::Text(name.to_owned()), Value::Text(schema.to_owned())],
    )
    .await?;
    if rows.is_empty() {
        return Err(undefined());
    }
    let columns = rows
        .iter()
        .map(|r| ColumnInfo {
            name: text(r, 0).unwrap_or_default(),
            ty: ColumnType::from_sqlite_decl(text(r, 1).as_deref().filter(|t| !t.is_empty())),
            pk: match r.get(2) {
                Some(Value::Int(i)) => *i,
                _ => 0,
            },
            default: text(r, 3),
        })
        .collect();
    Ok(TableInfo {
        schema: schema.to_owned(),
        name: name.to_owned(),
        columns,
        target: Target::Internal,
        dialect: Dialect::Sqlite,
    })
}

fn text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Runs one statement and collects its rows (catalog queries are small).
pub(in crate::frontend::http) async fn query(
    engine: &Engine,
    principal: &Principal,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<Row>, DbError> {
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(
            sql,
            Dialect::Sqlite,
            Params::Positional(params),
        )],
    };
    tracing::trace!(role = principal.role.as_str(), sql, "catalog query");
    let stream = engine
        .execute_catalog_on(&crate::engine::Target::Internal, plan)
        .await
        .map_err(|e| e.to_client())?;
    collect(stream).await
}

/// Runs one catalog query on an external source, in that source's dialect, and collects its
/// rows (catalog results are small).
///
/// # Errors
/// The query's error, as the client sees it.
pub(super) async fn catalog_query(
    engine: &crate::engine::Engine,
    principal: &crate::auth::Principal,
    target: &crate::engine::Target,
    dialect: starbase_protocol::Dialect,
    sql: &str,
    params: Vec<starbase_protocol::Value>,
) -> Result<Vec<Row>, DbError> {
    let plan = starbase_protocol::Plan {
        mode: starbase_protocol::ExecMode::Single,
        steps: vec![starbase_protocol::Statement::new(
            sql,
            dialect,
            starbase_protocol::Params::Positional(params),
        )],
    };
    tracing::trace!(role = principal.role.as_str(), sql, "catalog query");
    let stream = engine
        .execute_catalog_on(target, plan)
        .await
        .map_err(|e| e.to_client())?;
    collect(stream).await
}

/// Column `i` of a catalog row as text (MySQL may send names as binary strings).
pub(super) fn catalog_text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(starbase_protocol::Value::Text(s)) => Some(s.clone()),
        Some(starbase_protocol::Value::Bytes(b)) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

/// Collects a small result's rows.
pub(in crate::frontend::http) use crate::engine::collect_rows as collect;

/// Looks up a table of the embedded database for the export and import routes, where an
/// unknown table is a missing resource: 404 with `42P01`.
///
/// # Errors
/// As [`table`], with HTTP 404 for `42P01`.
pub(in crate::frontend::http) async fn table_or_404(
    engine: &Engine,
    principal: &Principal,
    name: &str,
) -> Result<TableInfo, crate::frontend::http::error::ApiError> {
    use crate::frontend::http::error::ApiError;
    table(engine, principal, "main", name).await.map_err(|e| {
        if e.code == SqlState::UNDEFINED_TABLE {
            ApiError::with_status(axum::http::StatusCode::NOT_FOUND, e)
        } else {
            ApiError::new(e)
        }
    })
}
