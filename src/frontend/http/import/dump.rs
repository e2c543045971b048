//! Streaming SQL dump import: statements are cut from the upload as it arrives (SQLite's own
//! notion of a statement end: strings, comments and trigger bodies respected) and run in one
//! transaction through a writer lease.
//!
//! Owns the dump conventions: a StarbaseDB `SQLite format 3` first line is dropped; the
//! file's own `BEGIN`/`COMMIT`/`ROLLBACK` are skipped (the whole file is one transaction);
//! foreign keys are checked at commit (`defer_foreign_keys`), so tables may come in any
//! order. Memory holds one statement. Must not know HTTP.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use starbase_backends::Event;
use starbase_backends::sqlite::split::split;
use starbase_protocol::sql::classify::classify;
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Statement, StmtKind};

use crate::auth::Principal;
use crate::engine::Engine;
use crate::frontend::http::rest::schema::collect;

/// How much of a failing statement the report quotes.
const EXCERPT_CHARS: usize = 200;

/// A failed import: the error, which statement (1-based), and its text (shortened).
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: DbError,
    pub(super) statement: Option<(u64, String)>,
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        Failure {
            error,
            statement: None,
        }
    }
}

/// Runs every statement of the uploaded dump; returns how many ran.
///
/// # Errors
/// The first failing statement (with its number and text), malformed UTF-8, or a statement
/// longer than `max_statement_bytes`; nothing is committed then.
pub(super) async fn import(
    engine: &Engine,
    principal: &Principal,
    mut body: impl Stream<Item = Result<Bytes, DbError>> + Unpin,
    max_statement_bytes: usize,
) -> Result<u64, Failure> {
    tracing::debug!(role = principal.role.as_str(), "SQL dump import");
    let mut lease = engine.lease_writer().await.map_err(|e| e.to_client())?;
    run(engine, &mut lease, "PRAGMA defer_foreign_keys = ON").await?;
    let mut text = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut first_line = true;
    let mut count = 0u64;
    let mut at_end = false;
    while !at_end {
        match body.next().await {
            Some(chunk) => pending.extend_from_slice(&chunk?),
            None => at_end = true,
        }
        let chunk_text = super::utf8::take_complete(&mut pending, at_end)?;
        text.push_str(&chunk_text);
        if first_line {
            const MARKER: &str = "SQLite format 3";
            if text.starts_with(MARKER) {
                let Some(newline) = text.find('\n') else {
                    continue;
                };
                text.drain(..=newline);
            } else if MARKER.starts_with(text.as_str()) && !at_end {
                // Too short to tell yet.
                continue;
            }
            first_line = false;
        }
        let pieces = split(&text);
        // Every piece but the last ended where SQLite completes a statement; the last may
        // still be growing (a trigger body, a long string) until the upload ends.
        let ready = if at_end {
            pieces.len()
        } else {
            pieces.len().saturating_sub(1)
        };
        let mut consumed = 0;
        let mut batch: Vec<&str> = Vec::new();
        for piece in &pieces[..ready] {
            consumed = piece_end(&text, piece.text);
            if !matches!(classify(piece.text), StmtKind::Transaction(_)) {
                batch.push(piece.text);
            }
        }
        // One plan per chunk's statements: one round trip to the writer, not one per row.
        run_batch(engine, &mut lease, &batch)
            .await
            .map_err(|(i, error)| Failure {
                error,
                statement: Some((count + i as u64 + 1, excerpt(batch[i]))),
            })?;
        count += batch.len() as u64;
        text.drain(..consumed);
        if text.len() > max_statement_bytes {
            return Err(DbError::invalid_parameter(format!(
                "a statement in the SQL file is longer than {max_statement_bytes} bytes"
            ))
            .into());
        }
    }
    lease.commit().await.map_err(|e| e.to_db_error())?;
    Ok(count)
}

/// Byte offset in `text` just after `piece` (a subslice of it).
fn piece_end(text: &str, piece: &str) -> usize {
    (piece.as_ptr() as usize - text.as_ptr() as usize) + piece.len()
}

fn excerpt(sql: &str) -> String {
    let sql = sql.trim();
    match sql.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &sql[..cut]),
        None => sql.to_owned(),
    }
}

/// Runs `statements` in order inside the lease; on failure, the index of the failing one.
async fn run_batch(
    engine: &Engine,
    lease: &mut starbase_backends::sqlite::WriterLease,
    statements: &[&str],
) -> Result<(), (usize, DbError)> {
    if statements.is_empty() {
        return Ok(());
    }
    let plan = Plan {
        mode: ExecMode::Batch,
        steps: statements
            .iter()
            .map(|sql| Statement::new(*sql, Dialect::Sqlite, Params::None))
            .collect(),
    };
    let mut stream = lease
        .execute(plan, &engine.exec_options())
        .map_err(|e| (0, e.to_db_error()))?;
    let mut step = 0;
    while let Some(event) = stream.recv().await {
        match event {
            Ok(Event::Step(i)) => step = i,
            Ok(Event::Finished) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                let mut error = e.to_db_error();
                // The step is named by the caller, with the statement's own number.
                error.detail = None;
                return Err((step, error));
            }
        }
    }
    Err((
        step,
        DbError::internal("the database worker stopped before the statement finished"),
    ))
}

async fn run(
    engine: &Engine,
    lease: &mut starbase_backends::sqlite::WriterLease,
    sql: &str,
) -> Result<(), DbError> {
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(sql, Dialect::Sqlite, Params::None)],
    };
    let stream = lease
        .execute(plan, &engine.exec_options())
        .map_err(|e| e.to_db_error())?;
    collect(stream).await.map(drop)
}
