//! Runs one plan step: a text of one or more SQLite statements with its parameters.
//!
//! Owns preparing the statements of a text, binding parameters by SQLite's own parameter
//! names, the parameter count check, and streaming each statement's `Columns`, `Rows` and
//! `Done`. Whether a statement returns rows is what the prepared statement says, never the
//! text. Must not know about plan modes, transactions or threads.

use rusqlite::fallible_iterator::FallibleIterator;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use rusqlite::{Batch, CachedStatement, Connection};
use starbase_protocol::{DbError, Params, Placeholder, Row, SqlState, Statement};

use super::access::Scope;
use super::catalog;
use super::convert;
use super::error::classify;
use super::job::{Failure, Output};
use super::split::Piece;
use crate::result::{BATCH_BYTES, BATCH_ROWS, Event, ExecSummary};

/// A prepared statement and the piece of text it came from.
type Prepared<'c> = (usize, Stmt<'c>);

/// A prepared statement, from the connection's statement cache when its text is exactly one
/// statement (the common case), or freshly prepared from a text SQLite splits further.
pub(super) enum Stmt<'c> {
    /// Returned to the connection's cache when dropped.
    Cached(CachedStatement<'c>),
    /// Prepared for this use only.
    Fresh(rusqlite::Statement<'c>),
}

impl<'c> Deref for Stmt<'c> {
    type Target = rusqlite::Statement<'c>;

    fn deref(&self) -> &Self::Target {
        match self {
            Stmt::Cached(s) => s,
            Stmt::Fresh(s) => s,
        }
    }
}

impl DerefMut for Stmt<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Stmt::Cached(s) => s,
            Stmt::Fresh(s) => s,
        }
    }
}

/// Runs every statement of `step` (already split into `pieces`), in order.
///
/// The parameter count is checked against the placeholders of all statements before any
/// runs when they all prepare up front. When a later statement cannot be prepared yet (it
/// uses a table an earlier one creates), the rest are prepared as they are reached and the
/// count is checked at the end, so the caller's transaction must roll it back.
///
/// # Errors
/// `42601 empty query` when the text holds no statement, `22023` for parameters, and any
/// statement error, with its position relative to the whole text.
pub(super) fn run_step(
    conn: &Connection,
    step: &Statement,
    pieces: &[Piece<'_>],
    out: &Output,
) -> Result<(), Failure> {
    if pieces.is_empty() {
        return Err(empty_query().into());
    }
    // A restricted caller's statement is checked by the authorizer while it prepares (and
    // re-prepares after a schema change, which happens while it runs).
    let _access = Scope::enter(step.access.as_ref());
    let (prepared, resume_at) = prepare_ahead(conn, pieces)?;
    if prepared.is_empty() && resume_at.is_none() {
        return Err(empty_query().into());
    }
    let mut used: Vec<(usize, Placeholder)> = Vec::new();
    for (piece, stmt) in &prepared {
        used.extend(stmt_slots(stmt, pieces[*piece]).iter().cloned());
    }
    if resume_at.is_none() {
        step.params.check_count(&used)?;
    }
    for (piece, stmt) in prepared {
        run_statement(conn, stmt, &step.params, pieces[piece], out)?;
    }
    if let Some(first) = resume_at {
        for &piece in &pieces[first..] {
            for stmt in prepare_piece(conn, piece)? {
                used.extend(stmt_slots(&stmt, piece).iter().cloned());
                run_statement(conn, stmt, &step.params, piece, out)?;
            }
        }
        step.params.check_count(&used)?;
    }
    Ok(())
}

/// Prepares every statement of `step` without running it and sends its `Columns` and a
/// zero `Done`.
///
/// # Errors
/// `42601 empty query` when the text holds no statement, and any preparation error.
pub(super) fn describe_step(
    pieces: &[Piece<'_>],
    conn: &Connection,
    out: &Output,
) -> Result<(), Failure> {
    if pieces.is_empty() {
        return Err(empty_query().into());
    }
    for &piece in pieces {
        for stmt in prepare_piece(conn, piece)? {
            out.send(Event::Columns(convert::columns(conn, &stmt).into()))?;
            out.send(Event::Done(ExecSummary::default()))?;
        }
    }
    Ok(())
}

/// Prepares the statements of every piece, stopping at the first piece that fails. Returns
/// the prepared statements and, when one failed, the index of the piece to resume at.
///
/// # Errors
/// The first piece's error: nothing can run before it, so it is the step's error.
fn prepare_ahead<'c>(
    conn: &'c Connection,
    pieces: &[Piece<'_>],
) -> Result<(Vec<Prepared<'c>>, Option<usize>), DbError> {
    let mut prepared = Vec::with_capacity(pieces.len());
    for (i, &piece) in pieces.iter().enumerate() {
        match prepare_piece(conn, piece) {
            Ok(stmts) => prepared.extend(stmts.into_iter().map(|s| (i, s))),
            Err(e) if i == 0 => return Err(e),
            Err(_) => return Ok((prepared, Some(i))),
        }
    }
    Ok((prepared, None))
}

/// Prepares the statement(s) of one piece. SQLite decides: normally one, none when the
/// piece is empty to SQLite, more if it disagrees with the splitter.
pub(super) fn prepare_piece<'c>(
    conn: &'c Connection,
    piece: Piece<'_>,
) -> Result<Vec<Stmt<'c>>, DbError> {
    match conn.prepare_cached(piece.text) {
        Ok(stmt) => return Ok(vec![Stmt::Cached(stmt)]),
        // Nothing to run, or more than one statement: let the batch decide below.
        Err(rusqlite::Error::Empty | rusqlite::Error::MultipleStatement) => {}
        Err(e) => {
            // The cache prepares the trimmed text: count the trimmed characters back in.
            let leading = piece.text.chars().take_while(|c| c.is_whitespace()).count();
            let trimmed = Piece {
                text: piece.text.trim(),
                char_offset: piece.char_offset + leading,
            };
            return Err(located(&e, trimmed));
        }
    }
    let mut batch = Batch::new(conn, piece.text);
    let mut stmts = Vec::with_capacity(1);
    loop {
        match batch.next() {
            Ok(Some(stmt)) => stmts.push(Stmt::Fresh(stmt)),
            Ok(None) => return Ok(stmts),
            Err(e) => return Err(located(&e, piece)),
        }
    }
}

/// The `(bind index, placeholder)` pairs of one statement.
type Slots = Rc<[(usize, Placeholder)]>;

/// Statements with at least this many parameters have their slots cached.
const CACHED_SLOTS_MIN_PARAMS: usize = 16;
/// Slots cached per SQLite thread at most (the cache is emptied when full).
const CACHED_SLOTS_MAX: usize = 64;

thread_local! {
    /// The slots of the many-parameter statements this SQLite thread ran, by statement text
    /// (each thread owns one connection, so this sits beside its statement cache). SQLite
    /// finds a parameter's name by a linear scan of its list, so asking for all n names of a
    /// statement costs O(n²): with the 2,500-parameter multi-row INSERTs of a CSV or JSON
    /// import that was 86% of the import's time.
    static SLOTS: RefCell<HashMap<Box<str>, Slots>> = RefCell::new(HashMap::new());
}

/// The slots of `stmt` prepared from `piece` (cached when it is the piece's only statement).
fn stmt_slots(stmt: &Stmt<'_>, piece: Piece<'_>) -> Slots {
    let text = matches!(stmt, Stmt::Cached(_)).then_some(piece.text);
    slots(stmt, text)
}

/// The `(bind index, placeholder)` pairs of a prepared statement, as SQLite numbers them.
/// `text` is the statement's own text when it is the only statement prepared from it (the
/// slots are then cached under it).
fn slots(stmt: &rusqlite::Statement<'_>, text: Option<&str>) -> Slots {
    let count = stmt.parameter_count();
    let compute = || -> Slots {
        (1..=count)
            .map(|i| (i, Placeholder::from_token(stmt.parameter_name(i))))
            .collect()
    };
    let Some(text) = text.filter(|_| count >= CACHED_SLOTS_MIN_PARAMS) else {
        return compute();
    };
    SLOTS.with(|cache| {
        if let Some(found) = cache.borrow().get(text) {
            return Rc::clone(found);
        }
        let slots = compute();
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHED_SLOTS_MAX {
            cache.clear();
        }
        cache.insert(text.into(), Rc::clone(&slots));
        slots
    })
}

/// Binds, runs and streams one prepared statement.
fn run_statement(
    conn: &Connection,
    mut stmt: Stmt<'_>,
    params: &Params,
    piece: Piece<'_>,
    out: &Output,
) -> Result<(), Failure> {
    out.check()?;
    // After the statements before it ran: DDL earlier in the same text is seen.
    catalog::refresh(conn, piece.text);
    let values = params.bind(&stmt_slots(&stmt, piece))?;
    for (i, value) in values.iter().enumerate() {
        convert::bind_value(&mut stmt, i + 1, value)?;
    }
    let changes_before = conn.total_changes();
    let rowid_before = conn.last_insert_rowid();
    let rows_read = stream_rows(conn, &mut stmt, piece, out)?;
    let rows_written = if conn.total_changes() == changes_before {
        0
    } else {
        conn.changes()
    };
    let rowid = conn.last_insert_rowid();
    out.send(Event::Done(ExecSummary {
        rows_read,
        rows_written,
        last_insert_id: (rows_written > 0 && rowid != rowid_before).then_some(rowid),
    }))
}

/// Steps the statement to the end, sending `Columns` and then rows in batches.
///
/// Columns are read after the first step: a statement SQLite had to re-prepare (the schema
/// changed since it was prepared) reports its current columns only then.
fn stream_rows(
    conn: &Connection,
    stmt: &mut rusqlite::Statement<'_>,
    piece: Piece<'_>,
    out: &Output,
) -> Result<u64, Failure> {
    let fail = |e: &rusqlite::Error| Failure::Db(out.explain(located(e, piece)));
    let mut rows = stmt.raw_query();
    let Some(first) = rows.next().map_err(|e| fail(&e))? else {
        drop(rows);
        out.send(Event::Columns(convert::columns(conn, stmt).into()))?;
        return Ok(0);
    };
    let columns = convert::columns(conn, first.as_ref());
    let width = columns.len();
    out.send(Event::Columns(columns.into()))?;
    let mut batch = RowBatch::default();
    let mut count = 0u64;
    let mut next = Some(first);
    while let Some(row) = next {
        count += 1;
        if let Some(full) = batch.push(convert::read_row(row, width)?) {
            out.send_batch(full)?;
        }
        next = rows.next().map_err(|e| fail(&e))?;
    }
    if !batch.rows.is_empty() {
        out.send(Event::Rows(batch.rows))?;
    }
    Ok(count)
}

/// Rows collected until the batch reaches `BATCH_ROWS` rows or about `BATCH_BYTES`.
#[derive(Default)]
struct RowBatch {
    rows: Vec<Row>,
    bytes: usize,
}

impl RowBatch {
    /// Adds a row; returns the batch to send when it is full.
    fn push(&mut self, row: Row) -> Option<Vec<Row>> {
        self.bytes += convert::row_size(&row);
        self.rows.push(row);
        if self.rows.len() >= BATCH_ROWS || self.bytes >= BATCH_BYTES {
            self.bytes = 0;
            Some(std::mem::take(&mut self.rows))
        } else {
            None
        }
    }
}

/// Classifies a statement error and makes its position relative to the whole step text.
fn located(err: &rusqlite::Error, piece: Piece<'_>) -> DbError {
    let mut error = classify(err);
    if let Some(position) = error.position {
        error.position = u32::try_from(piece.char_offset)
            .ok()
            .and_then(|offset| position.checked_add(offset));
    }
    error
}

/// `42601`: the text holds no statement at all.
fn empty_query() -> DbError {
    DbError::new(SqlState::SYNTAX_ERROR, "empty query")
}
