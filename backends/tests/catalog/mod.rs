//! Helpers shared by the catalog test binaries: a backend with a typical schema, and
//! queries whose rows come back as text for exact comparisons.
#![allow(dead_code, clippy::unwrap_used)]

use starbase_backends::sqlite::{ExecOptions, SqliteBackend, SqliteConfig};
use starbase_backends::{Error, Event, ResultStream};
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Statement, Value};
use tempfile::TempDir;

/// The schema most tests use: every interesting declared type, keys of each kind.
pub(crate) const SCHEMA: &str = "
CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
CREATE TABLE t (
  id INTEGER PRIMARY KEY,
  small SMALLINT NOT NULL DEFAULT 0,
  name VARCHAR(20),
  price NUMERIC(10,2) CHECK (price >= 0),
  flag BOOLEAN,
  at TIMESTAMPTZ,
  uid UUID,
  doc JSONB,
  data BLOB,
  u_id INTEGER REFERENCES u(id) ON DELETE CASCADE
);
CREATE INDEX t_name_idx ON t (name, at DESC);
CREATE VIEW tv AS SELECT id, name FROM t;
CREATE TABLE pair (a TEXT, b TEXT, PRIMARY KEY (a, b), CONSTRAINT pair_b UNIQUE (b));
";

pub(crate) fn open_with(readers: usize) -> (TempDir, SqliteBackend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SqliteConfig::new(dir.path().join("db.sqlite"));
    config.readers = readers;
    (dir, SqliteBackend::open(config).unwrap())
}

/// A backend with [`SCHEMA`]; reads go to its readers.
pub(crate) async fn open() -> (TempDir, SqliteBackend) {
    let (dir, db) = open_with(2);
    exec(&db, SCHEMA).await;
    (dir, db)
}

pub(crate) fn plan(sql: &str, mode: ExecMode) -> Plan {
    Plan {
        mode,
        steps: vec![Statement::new(sql, Dialect::Sqlite, Params::None)],
    }
}

pub(crate) async fn collect(mut rx: ResultStream) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    while let Some(item) = rx.recv().await {
        match item? {
            Event::Finished => return Ok(events),
            event => events.push(event),
        }
    }
    panic!("stream ended without Finished: {events:?}");
}

pub(crate) async fn run(
    db: &SqliteBackend,
    sql: &str,
    mode: ExecMode,
) -> Result<Vec<Event>, Error> {
    collect(
        db.execute(plan(sql, mode), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
}

/// Runs a script on the writer (a batch with writes).
pub(crate) async fn exec(db: &SqliteBackend, sql: &str) {
    run(db, sql, ExecMode::Batch).await.unwrap();
}

/// A value as compact text: integers and text as they are, NULL as `NULL`.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::Bool(b) => i32::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Numeric(s) | Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// The rows of a read-only query (on a reader), each as its values' text.
pub(crate) async fn query(db: &SqliteBackend, sql: &str) -> Vec<Vec<String>> {
    let events = run(db, sql, ExecMode::Single)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    text_rows(&events)
}

/// The only value of a one-row, one-column query.
pub(crate) async fn one(db: &SqliteBackend, sql: &str) -> String {
    let rows = query(db, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    assert_eq!(rows[0].len(), 1, "{sql}: {rows:?}");
    rows[0][0].clone()
}

/// The error a query fails with.
pub(crate) async fn fails(db: &SqliteBackend, sql: &str) -> DbError {
    match run(db, sql, ExecMode::Single).await {
        Err(Error::Db(e)) => e,
        other => panic!("{sql}: expected an error, got {other:?}"),
    }
}

pub(crate) fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected
        .iter()
        .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

/// The rows of every statement of `events`, as text.
pub(crate) fn text_rows(events: &[Event]) -> Vec<Vec<String>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(batch) => Some(batch.clone()),
            _ => None,
        })
        .flatten()
        .map(|row| row.iter().map(show).collect())
        .collect()
}

/// The rows of a query with JSON parameters (`[..]` by position).
pub(crate) async fn query_params(
    db: &SqliteBackend,
    sql: &str,
    params: &serde_json::Value,
) -> Vec<Vec<String>> {
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(
            sql,
            Dialect::Sqlite,
            Params::from_json(Some(params)).unwrap(),
        )],
    };
    let events = collect(db.execute(plan, ExecOptions::default()).await.unwrap())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    text_rows(&events)
}

/// The result column names of a query.
pub(crate) async fn columns(db: &SqliteBackend, sql: &str) -> Vec<String> {
    let events = run(db, sql, ExecMode::Single).await.unwrap();
    events
        .iter()
        .find_map(|e| match e {
            Event::Columns(cols) => Some(cols.iter().map(|c| c.name.clone()).collect()),
            _ => None,
        })
        .unwrap()
}

/// The OID the catalog reports for relation `name`, as text.
pub(crate) fn oid(name: &str) -> String {
    starbase_protocol::pgtype::relation_oid(name).to_string()
}
