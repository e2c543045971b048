//! One record on each side: a text through the pgwire frontend (tokio-postgres' simple
//! query protocol, so every value arrives as text or NULL) and the same text on SQLite
//! directly (rusqlite), both formatted by the query's type letters.
//!
//! Owns talking to the two engines. Must not know records, sort modes or the checks.

use std::time::Duration;

use rusqlite::Batch;
use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::types::ValueRef;
use tokio_postgres::SimpleQueryMessage;

use super::format::{Cell, format_cell};

/// How long one record may take through pgwire; a record that takes longer stops the file.
const RECORD_TIMEOUT: Duration = Duration::from_secs(20);
/// How a timed-out record's error starts.
pub const TIMED_OUT: &str = "timed out";

/// A statement through pgwire: `Ok` or the error's SQLSTATE and message.
pub async fn pg_statement(client: &tokio_postgres::Client, sql: &str) -> Result<(), String> {
    simple(client, sql).await.map(drop)
}

/// One simple-protocol round trip, bounded by [`RECORD_TIMEOUT`].
async fn simple(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Result<Vec<SimpleQueryMessage>, String> {
    match tokio::time::timeout(RECORD_TIMEOUT, client.simple_query(sql)).await {
        Ok(result) => result.map_err(|e| pg_error(&e)),
        Err(_) => Err(format!("{TIMED_OUT} after {} s", RECORD_TIMEOUT.as_secs())),
    }
}

/// A statement on SQLite, as `sqlite3_exec` runs it: every statement of the text.
pub fn direct_statement(conn: &rusqlite::Connection, sql: &str) -> Result<(), String> {
    conn.execute_batch(sql).map_err(|e| e.to_string())
}

/// The SQLSTATE and message of a server error, else the driver's own text.
fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The first result set of `sql` through pgwire, every value formatted by its letter.
pub async fn pg_query(
    client: &tokio_postgres::Client,
    sql: &str,
    types: &str,
) -> Result<Vec<String>, String> {
    let messages = simple(client, sql).await?;
    let letters: Vec<char> = types.chars().collect();
    let mut columns = 0;
    let mut values = Vec::new();
    for message in &messages {
        match message {
            SimpleQueryMessage::RowDescription(cols) => columns = cols.len(),
            SimpleQueryMessage::Row(row) => {
                for (i, ty) in letters.iter().enumerate().take(row.len()) {
                    let cell = row.get(i).map_or(Cell::Null, |s| pg_cell(s, *ty));
                    values.push(format_cell(&cell, *ty));
                }
            }
            SimpleQueryMessage::CommandComplete(_) => break,
            _ => {}
        }
    }
    check_columns(columns, letters.len())?;
    Ok(values)
}

/// A pgwire text value as the runner reads it. The gateway types comparisons and other
/// predicates as PostgreSQL's `bool`, which arrives as `t`/`f`; a numeric letter reads it as
/// the 1/0 SQLite computes.
fn pg_cell(text: &str, letter: char) -> Cell {
    match (text, letter) {
        ("t", 'I' | 'R') => Cell::Int(1),
        ("f", 'I' | 'R') => Cell::Int(0),
        _ => Cell::Text(text.as_bytes().to_vec()),
    }
}

/// `sql` run directly on SQLite, as `slt_sqlite.c` runs it: one prepared statement, stepped
/// until it stops. A failed prepare is an error; a failed step ends the rows (as the C
/// runner's `while( sqlite3_step(pStmt)==SQLITE_ROW )` does) and is returned beside them.
pub fn direct_query(
    conn: &rusqlite::Connection,
    sql: &str,
    types: &str,
) -> Result<(Vec<String>, Option<String>), String> {
    let letters: Vec<char> = types.chars().collect();
    // `sqlite3_prepare_v2` of the first statement; the C runner ignores the tail.
    let mut statement = Batch::new(conn, sql)
        .next()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no statement to run".to_owned())?;
    check_columns(statement.column_count(), letters.len())?;
    let mut rows = statement.query([]).map_err(|e| e.to_string())?;
    let mut values = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => return Ok((values, None)),
            Err(e) => return Ok((values, Some(e.to_string()))),
        };
        for (i, ty) in letters.iter().enumerate() {
            let cell = match row.get_ref(i).map_err(|e| e.to_string())? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(n) => Cell::Int(n),
                ValueRef::Real(f) if *ty == 'T' => Cell::Real(f, real_as_text(conn, f)?),
                ValueRef::Real(f) => Cell::Real(f, String::new()),
                ValueRef::Text(b) | ValueRef::Blob(b) => Cell::Text(b.to_vec()),
            };
            values.push(format_cell(&cell, *ty));
        }
    }
}

/// SQLite's own text of a real (what `sqlite3_column_text` would return), from SQLite.
fn real_as_text(conn: &rusqlite::Connection, f: f64) -> Result<String, String> {
    conn.prepare_cached("SELECT CAST(?1 AS TEXT)")
        .and_then(|mut s| s.query_row([f], |r| r.get(0)))
        .map_err(|e| e.to_string())
}

fn check_columns(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "wrong number of result columns: {got}, the type string has {want}"
        ))
    }
}
