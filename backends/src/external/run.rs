//! Runs one plan on one connection of an external backend, under the same rules as SQLite.
//!
//! Owns the plan-level semantics shared by PostgreSQL and MySQL: `Step` announcements,
//! statements split out of a step's text, placeholders rewritten and bound with
//! `Params::bind`, `Transaction` plans inside `BEGIN … COMMIT` with `ROLLBACK` on the first
//! error (transaction control inside one is `25001`), a multi-statement step all-or-nothing,
//! `Describe` without running, and PostgreSQL's transaction-block rules for sessions
//! (`BEGIN` inside a transaction and `COMMIT`/`ROLLBACK` outside one do nothing, a failed
//! transaction refuses everything but `ROLLBACK`/`COMMIT` with `25P02`). Must not know any
//! driver: it talks to a `Conn`.

use starbase_protocol::sql::classify::classify;
use starbase_protocol::{
    DbError, Dialect, ExecMode, Plan, SqlState, Statement, StmtKind, TxnControl, Value,
};

use super::conn::{Bound, Conn};
use super::lex::{self, Piece, Server};
use super::out::{Failure, Out};
use crate::result::{Event, ExecSummary, TxnState};

/// `25P02`'s message (PostgreSQL's wording).
const IN_FAILED_MESSAGE: &str =
    "current transaction is aborted, commands ignored until end of transaction block";

/// Whether the plan belongs to a session (a transaction may stay open afterwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A self-contained plan: nothing may stay open.
    Plan,
    /// One plan of a session.
    Session,
}

/// Runs `plan`; `txn` is the session's state before and after.
pub(crate) async fn run_plan<C: Conn>(
    conn: &mut C,
    plan: &Plan,
    out: &mut Out,
    txn: &mut TxnState,
    scope: Scope,
) -> Result<(), Failure> {
    if plan.mode == ExecMode::Describe {
        if *txn == TxnState::Failed {
            return Err(in_failed().into());
        }
        return describe(conn, plan, out).await;
    }
    let result = match plan.mode {
        ExecMode::Transaction => run_transaction(conn, plan, out, txn).await,
        _ => run_in_order(conn, plan, out, txn).await,
    };
    if scope == Scope::Session || *txn == TxnState::Idle {
        return result;
    }
    let _ = conn.control("ROLLBACK").await;
    *txn = TxnState::Idle;
    result?;
    Err(DbError::new(
        SqlState::ACTIVE_SQL_TRANSACTION,
        "transaction was left open; its statements were rolled back",
    )
    .with_hint("send the whole transaction in one request")
    .into())
}

/// Prepares every statement of every step and reports its columns.
async fn describe<C: Conn>(conn: &mut C, plan: &Plan, out: &mut Out) -> Result<(), Failure> {
    let total = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        out.send(Event::Step(i)).await?;
        let pieces = pieces(step, C::SERVER).map_err(|e| at_step(e.into(), i, total))?;
        for piece in pieces {
            let r = lex::rewrite(piece.text, C::SERVER, anonymous(step), &step.params);
            conn.describe(&r.sql, out)
                .await
                .map_err(|f| at_step(locate(f, piece), i, total))?;
            out.send(Event::Done(ExecSummary::default())).await?;
        }
    }
    Ok(())
}

/// `BEGIN`, every step, `COMMIT`; `ROLLBACK` on the first error.
async fn run_transaction<C: Conn>(
    conn: &mut C,
    plan: &Plan,
    out: &mut Out,
    txn: &mut TxnState,
) -> Result<(), Failure> {
    if *txn != TxnState::Idle {
        return Err(DbError::new(
            SqlState::ACTIVE_SQL_TRANSACTION,
            "a transaction request cannot run inside an open transaction",
        )
        .into());
    }
    let total = plan.steps.len();
    let mut steps = Vec::with_capacity(total);
    for (i, step) in plan.steps.iter().enumerate() {
        let pieces = pieces(step, C::SERVER).map_err(|e| at_step(e.into(), i, total))?;
        if pieces.iter().any(|p| is_control(classify(p.text))) {
            return Err(at_step(
                DbError::new(
                    SqlState::ACTIVE_SQL_TRANSACTION,
                    "transaction control statements are not allowed inside a transaction request",
                )
                .into(),
                i,
                total,
            ));
        }
        steps.push(pieces);
    }
    conn.control("BEGIN").await?;
    let body = async {
        for (i, (step, pieces)) in plan.steps.iter().zip(&steps).enumerate() {
            out.send(Event::Step(i)).await?;
            run_pieces(conn, step, pieces, out)
                .await
                .map_err(|f| at_step(f, i, total))?;
        }
        Ok(())
    }
    .await;
    commit_or_rollback(conn, out, body).await
}

/// Ends the transaction a body ran in: `COMMIT` when it succeeded and the consumer is still
/// there, `ROLLBACK` otherwise (the body's error wins).
async fn commit_or_rollback<C: Conn>(
    conn: &mut C,
    out: &Out,
    body: Result<(), Failure>,
) -> Result<(), Failure> {
    let result = match body.and_then(|()| out.check()) {
        Ok(()) => conn.control("COMMIT").await.map_err(Failure::from),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = conn.control("ROLLBACK").await;
    }
    result
}

/// Each step in order, stopping at the first error; a step of several statements (without
/// transaction control) runs all-or-nothing when no transaction is open.
async fn run_in_order<C: Conn>(
    conn: &mut C,
    plan: &Plan,
    out: &mut Out,
    txn: &mut TxnState,
) -> Result<(), Failure> {
    let total = plan.steps.len();
    for (i, step) in plan.steps.iter().enumerate() {
        let pieces = pieces(step, C::SERVER).map_err(|e| at_step(e.into(), i, total))?;
        let implicit = pieces.len() > 1
            && *txn == TxnState::Idle
            && !pieces.iter().any(|p| is_control(classify(p.text)));
        out.send(Event::Step(i)).await?;
        let result = if implicit {
            run_implicit(conn, step, &pieces, out).await
        } else {
            run_session_pieces(conn, step, &pieces, out, txn).await
        };
        result.map_err(|f| at_step(f, i, total))?;
    }
    Ok(())
}

/// A multi-statement step in its own transaction.
async fn run_implicit<C: Conn>(
    conn: &mut C,
    step: &Statement,
    pieces: &[Piece<'_>],
    out: &mut Out,
) -> Result<(), Failure> {
    conn.control("BEGIN").await?;
    let body = run_pieces(conn, step, pieces, out).await;
    commit_or_rollback(conn, out, body).await
}

/// The statements of one step, binding checked up front, without transaction rules.
async fn run_pieces<C: Conn>(
    conn: &mut C,
    step: &Statement,
    pieces: &[Piece<'_>],
    out: &mut Out,
) -> Result<(), Failure> {
    let bound = bind_all(step, pieces, C::SERVER)?;
    for (stmt, piece) in bound.iter().zip(pieces) {
        out.check()?;
        let summary = conn.run(stmt, out).await.map_err(|f| locate(f, *piece))?;
        out.send(Event::Done(summary)).await?;
    }
    Ok(())
}

/// The statements of one step under the session's transaction rules.
async fn run_session_pieces<C: Conn>(
    conn: &mut C,
    step: &Statement,
    pieces: &[Piece<'_>],
    out: &mut Out,
    txn: &mut TxnState,
) -> Result<(), Failure> {
    let bound = bind_all(step, pieces, C::SERVER)?;
    for (stmt, piece) in bound.iter().zip(pieces) {
        out.check()?;
        let kind = classify(piece.text);
        let action = control_action(*txn, kind, piece.text);
        let ran = matches!(action, Action::Run);
        let result = match action {
            Action::Refuse => Err(Failure::Db(in_failed())),
            Action::Skip => Ok(ExecSummary::default()),
            Action::Control(sql) => conn
                .control(sql)
                .await
                .map(|()| ExecSummary::default())
                .map_err(Failure::from),
            Action::Run => conn.run(stmt, out).await,
        };
        match result {
            Ok(summary) => {
                *txn = state_after(*txn, kind, piece.text);
                if !ran {
                    out.send(Event::Columns(Vec::new().into())).await?;
                }
                out.send(Event::Done(summary)).await?;
            }
            Err(f) => {
                if *txn != TxnState::Idle {
                    *txn = TxnState::Failed;
                }
                return Err(locate(f, *piece));
            }
        }
    }
    Ok(())
}

/// What to do with one statement given the transaction state.
enum Action {
    /// `25P02`.
    Refuse,
    /// Succeed without running anything.
    Skip,
    /// Run this transaction-control text instead.
    Control(&'static str),
    /// Run the statement.
    Run,
}

fn control_action(txn: TxnState, kind: StmtKind, text: &str) -> Action {
    use TxnControl as C;
    match (txn, kind) {
        (TxnState::Failed, StmtKind::Transaction(C::Commit | C::Rollback)) => {
            Action::Control("ROLLBACK")
        }
        (TxnState::Failed, StmtKind::Transaction(C::Savepoint)) if is_rollback_to(text) => {
            Action::Run
        }
        (TxnState::Failed, _) => Action::Refuse,
        (TxnState::InTransaction, StmtKind::Transaction(C::Begin))
        | (TxnState::Idle, StmtKind::Transaction(C::Commit | C::Rollback)) => Action::Skip,
        // SQLite's spellings, which the servers do not know.
        (TxnState::Idle, StmtKind::Transaction(C::Begin)) if is_sqlite_begin(text) => {
            Action::Control("BEGIN")
        }
        (TxnState::InTransaction, StmtKind::Transaction(C::Commit)) if starts_with(text, "END") => {
            Action::Control("COMMIT")
        }
        _ => Action::Run,
    }
}

fn state_after(txn: TxnState, kind: StmtKind, text: &str) -> TxnState {
    match kind {
        StmtKind::Transaction(TxnControl::Begin) => TxnState::InTransaction,
        StmtKind::Transaction(TxnControl::Commit | TxnControl::Rollback) => TxnState::Idle,
        StmtKind::Transaction(TxnControl::Savepoint)
            if txn == TxnState::Failed && is_rollback_to(text) =>
        {
            TxnState::InTransaction
        }
        _ => txn,
    }
}

fn is_rollback_to(text: &str) -> bool {
    starts_with(text, "ROLLBACK")
}

fn starts_with(text: &str, word: &str) -> bool {
    text.get(..word.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(word))
}

/// `BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE] [TRANSACTION]`.
fn is_sqlite_begin(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let mut words = upper.split_ascii_whitespace();
    words.next() == Some("BEGIN")
        && words
            .next()
            .is_some_and(|w| matches!(w, "DEFERRED" | "IMMEDIATE" | "EXCLUSIVE"))
}

fn is_control(kind: StmtKind) -> bool {
    matches!(kind, StmtKind::Transaction(_))
}

/// The statements of a step; `42601 empty query` when there are none.
fn pieces(step: &Statement, server: Server) -> Result<Vec<Piece<'_>>, DbError> {
    let pieces = lex::split(&step.sql, server);
    if pieces.is_empty() {
        return Err(DbError::new(SqlState::SYNTAX_ERROR, "empty query"));
    }
    Ok(pieces)
}

/// `?` is a placeholder unless the text was written for PostgreSQL.
fn anonymous(step: &Statement) -> bool {
    step.dialect != Dialect::Postgres
}

/// Rewrites and binds every statement of a step, checking the parameter count over all.
fn bind_all(step: &Statement, pieces: &[Piece<'_>], server: Server) -> Result<Vec<Bound>, DbError> {
    let rewritten: Vec<_> = pieces
        .iter()
        .map(|p| lex::rewrite(p.text, server, anonymous(step), &step.params))
        .collect();
    let used: Vec<_> = rewritten.iter().flat_map(|r| r.slots.clone()).collect();
    step.params.check_count(&used)?;
    rewritten
        .into_iter()
        .zip(pieces)
        .map(|(r, piece)| {
            let values = step.params.bind(&r.slots)?;
            let by_number = |n: usize| {
                r.slots
                    .iter()
                    .position(|(k, _)| *k == n)
                    .and_then(|i| values.get(i).cloned())
                    .unwrap_or(Value::Null)
            };
            let values = match server {
                Server::Postgres => {
                    let max = r.slots.last().map_or(0, |(n, _)| *n);
                    (1..=max).map(by_number).collect()
                }
                Server::MySql => r.occurrences.iter().map(|n| by_number(*n)).collect(),
            };
            Ok(Bound {
                sql: r.sql,
                values,
                writes: classify(piece.text) == StmtKind::Write,
            })
        })
        .collect()
}

fn in_failed() -> DbError {
    DbError::new(SqlState::IN_FAILED_SQL_TRANSACTION, IN_FAILED_MESSAGE)
}

/// Makes an error position relative to the whole step text.
fn locate(failure: Failure, piece: Piece<'_>) -> Failure {
    match failure {
        Failure::Db(mut e) => {
            if let Some(position) = e.position {
                e.position = u32::try_from(piece.char_offset)
                    .ok()
                    .and_then(|offset| position.checked_add(offset));
            }
            Failure::Db(e)
        }
        Failure::Gone => Failure::Gone,
    }
}

/// Names the failing step in the error's detail when the plan has several.
fn at_step(failure: Failure, index: usize, total: usize) -> Failure {
    match failure {
        Failure::Db(e) if total > 1 && e.detail.is_none() => {
            Failure::Db(e.with_detail(format!("statement {} of {total}", index + 1)))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_rules_follow_postgres() {
        use TxnControl as C;
        let begin = StmtKind::Transaction(C::Begin);
        let commit = StmtKind::Transaction(C::Commit);
        let sp = StmtKind::Transaction(C::Savepoint);
        assert!(matches!(
            control_action(TxnState::Failed, commit, "COMMIT"),
            Action::Control("ROLLBACK")
        ));
        assert!(matches!(
            control_action(TxnState::Failed, StmtKind::Read, "SELECT 1"),
            Action::Refuse
        ));
        assert!(matches!(
            control_action(TxnState::Failed, sp, "ROLLBACK TO a"),
            Action::Run
        ));
        assert!(matches!(
            control_action(TxnState::Failed, sp, "SAVEPOINT a"),
            Action::Refuse
        ));
        assert!(matches!(
            control_action(TxnState::InTransaction, begin, "BEGIN"),
            Action::Skip
        ));
        assert!(matches!(
            control_action(TxnState::Idle, commit, "END"),
            Action::Skip
        ));
        assert!(matches!(
            control_action(TxnState::Idle, begin, "BEGIN IMMEDIATE"),
            Action::Control("BEGIN")
        ));
        assert!(matches!(
            control_action(TxnState::Idle, begin, "BEGIN ISOLATION LEVEL SERIALIZABLE"),
            Action::Run
        ));
        assert!(matches!(
            control_action(TxnState::InTransaction, commit, "end"),
            Action::Control("COMMIT")
        ));
        assert_eq!(
            state_after(TxnState::Failed, sp, "rollback to a"),
            TxnState::InTransaction
        );
        assert_eq!(
            state_after(TxnState::Idle, begin, "BEGIN"),
            TxnState::InTransaction
        );
        assert_eq!(
            state_after(TxnState::InTransaction, commit, "END"),
            TxnState::Idle
        );
    }
}
