//! Tests of the PostgreSQL-dialect translation: table-driven cases per concern, each
//! translated text checked by preparing it on SQLite.

mod client_cases;
mod control_cases;
mod error_cases;
mod infer_cases;
mod translate_cases;

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use super::{NoSchema, PgStatement, Schema, SchemaColumn, SessionContext, Translated, translate};
use crate::error::DbError;

fn setting(name: &str) -> Option<String> {
    match name {
        "server_version" => Some("16.4".to_owned()),
        "server_version_num" => Some("160004".to_owned()),
        "timezone" => Some("UTC".to_owned()),
        "search_path" => Some("\"$user\", public".to_owned()),
        "application_name" => Some("psql".to_owned()),
        _ => None,
    }
}

fn ctx() -> SessionContext<'static> {
    SessionContext {
        database: "main",
        user: "alice",
        backend_pid: 4242,
        setting: &setting,
    }
}

fn col(name: &str, decl: &str, pk: bool) -> SchemaColumn {
    SchemaColumn {
        name: name.to_owned(),
        decl: Some(decl.to_owned()),
        not_null: pk,
        pk,
    }
}

/// The tables the cases run against, as the schema lookup and as SQLite DDL.
const DDL: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email VARCHAR(100), age INT4,
        score REAL, created TIMESTAMPTZ, active BOOLEAN);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total NUMERIC(10,2),
        note TEXT, qty SMALLINT);
    CREATE TABLE pg_class (oid INTEGER, relname TEXT, relnamespace INTEGER, relkind TEXT);
    CREATE TABLE pg_namespace (oid INTEGER, nspname TEXT);
    CREATE TABLE pg_attribute (attrelid INTEGER, attname TEXT, attnum INTEGER);
    CREATE TABLE pg_index (indexrelid INTEGER, indrelid INTEGER, indkey TEXT);
    CREATE TABLE pg_constraint (oid INTEGER, conname TEXT, conindid INTEGER, conkey TEXT);
    CREATE TABLE pg_roles (oid INTEGER, rolname TEXT);
    CREATE TABLE pg_type (oid INTEGER, typname TEXT, typnamespace INTEGER);
    CREATE TEMP TABLE pg_database (oid, datname, datdba, encoding, datlocprovider,
      datistemplate, datallowconn, datconnlimit, datlastsysoid, datfrozenxid, datminmxid,
      dattablespace, datcollate, datctype, daticulocale, daticurules, datcollversion, datacl);
    CREATE TABLE information_schema_tables (table_name TEXT, table_schema TEXT);
";

fn schema() -> Schema {
    Schema::new(vec![
        (
            "users".to_owned(),
            vec![
                col("id", "INTEGER", true),
                col("name", "TEXT", false),
                col("email", "VARCHAR(100)", false),
                col("age", "INT4", false),
                col("score", "REAL", false),
                col("created", "TIMESTAMPTZ", false),
                col("active", "BOOLEAN", false),
            ],
        ),
        (
            "Orders".to_owned(),
            vec![
                col("id", "INTEGER", true),
                col("user_id", "INTEGER", false),
                col("total", "NUMERIC(10,2)", false),
                col("note", "TEXT", false),
                col("qty", "SMALLINT", false),
            ],
        ),
    ])
}

fn run(sql: &str) -> Result<Vec<PgStatement>, DbError> {
    translate(sql, &ctx(), &schema())
}

/// The single `Query` a text translates to.
fn query(sql: &str) -> Translated {
    match run(sql) {
        Ok(mut v) if v.len() == 1 => match v.pop() {
            Some(PgStatement::Query(t)) => t,
            other => panic!("{sql}: not a query: {other:?}"),
        },
        other => panic!("{sql}: {other:?}"),
    }
}

fn no_schema(sql: &str) -> Result<Vec<PgStatement>, DbError> {
    translate(sql, &ctx(), &NoSchema)
}

/// A connection with the test tables and stand-ins for the gateway's SQL functions.
fn sqlite() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(DDL).unwrap();
    rusqlite::vtab::series::load_module(&conn).unwrap();
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, args) in [
        ("regexp", 2),
        ("starbase_regclass", 1),
        ("starbase_regtype", 1),
        ("starbase_regproc", 1),
        ("starbase_regnamespace", 1),
        ("pg_table_is_visible", 1),
        ("format_type", 2),
        ("array_to_string", 2),
        ("array_lower", 2),
        ("starbase_array_get", 2),
    ] {
        conn.create_scalar_function(name, args, flags, |_| Ok(0i64))
            .unwrap();
    }
    // The catalog's `starbase_array_json` and `array_agg`, close enough to prepare and run.
    conn.create_scalar_function("starbase_array_json", 1, flags, |_| Ok("[1]"))
        .unwrap();
    conn.create_aggregate_function("array_agg", 1, flags, CountAgg)
        .unwrap();
    conn
}

/// Asserts that SQLite can prepare `sql`.
fn assert_prepares(conn: &Connection, sql: &str) {
    if let Err(e) = conn.prepare(sql) {
        panic!("SQLite rejects {sql:?}: {e}");
    }
}

/// A stand-in aggregate for `array_agg`.
struct CountAgg;

impl rusqlite::functions::Aggregate<i64, i64> for CountAgg {
    fn init(&self, _: &mut rusqlite::functions::Context<'_>) -> rusqlite::Result<i64> {
        Ok(0)
    }
    fn step(&self, _: &mut rusqlite::functions::Context<'_>, n: &mut i64) -> rusqlite::Result<()> {
        *n += 1;
        Ok(())
    }
    fn finalize(
        &self,
        _: &mut rusqlite::functions::Context<'_>,
        n: Option<i64>,
    ) -> rusqlite::Result<i64> {
        Ok(n.unwrap_or(0))
    }
}
