//! Runs one plan of a `SqliteSession` on the writer, under PostgreSQL's transaction-block
//! rules.
//!
//! Owns what differs from a self-contained plan: a transaction may stay open when the plan
//! ends; `BEGIN` inside a transaction and `COMMIT`/`ROLLBACK` outside one succeed without
//! doing anything (PostgreSQL only warns); PostgreSQL spellings of transaction control run
//! as SQLite's; after an error inside a transaction the session is failed and everything but
//! `ROLLBACK`, `ROLLBACK TO` and `COMMIT` (which then rolls back) gets `25P02`; a failed
//! `COMMIT` rolls back. The state after a plan comes from `is_autocommit()`, never from the
//! text alone: SQLite itself rolls back after some errors. Must not know about threads,
//! channels or leases.

use rusqlite::Connection;
use starbase_protocol::sql::classify::classify as classify_text;
use starbase_protocol::{DbError, ExecMode, Plan, SqlState, Statement, StmtKind, TxnControl};

use super::exec::{Role, at_step, control, describe_steps, run_plan as run_self_contained};
use super::job::{Failure, Job, Output};
use super::session_lease::rollback;
use super::split::{Piece, split};
use super::step::run_step;
use crate::result::{Event, ExecSummary, TxnState};

/// `25P02`'s message (PostgreSQL's wording).
pub(super) const IN_FAILED_MESSAGE: &str =
    "current transaction is aborted, commands ignored until end of transaction block";

/// What the runner knows about the transaction while a plan runs.
#[derive(Debug)]
struct Block {
    /// The session is in a failed transaction (until `ROLLBACK`/`COMMIT` ends it). SQLite's
    /// own transaction may be open or already rolled back by SQLite.
    failed: bool,
    /// An implicit transaction wraps the current multi-statement step.
    implicit: bool,
    /// The statement running (or that ran last) is inside an explicit transaction.
    inside: bool,
}

/// Runs a session's job on the writer and returns (and publishes) the session's state
/// afterwards. `failed` carries the failed-transaction flag from one plan to the next.
pub(super) fn run(conn: &mut Connection, job: Job, failed: &mut bool) -> TxnState {
    let Some(shared) = job.session.as_ref().map(|link| &link.shared) else {
        return current(conn, *failed);
    };
    if job.tx.is_closed() {
        // Cancelled before it started: nothing ran, nothing changes.
        return current(conn, *failed);
    }
    let scripts: Vec<Vec<Piece<'_>>> = job.plan.steps.iter().map(|s| split(&s.sql)).collect();
    let out = Output::start(conn, &job);
    let mut block = Block {
        failed: *failed,
        implicit: false,
        inside: false,
    };
    let result = run_plan(conn, &job.plan, &scripts, &out, &mut block);
    let state = state_after(conn, result.is_ok(), &mut block);
    *failed = state == TxnState::Failed;
    // Before the last event: a consumer that saw the end of the stream sees the new state.
    shared.set_state(state);
    match result {
        // A consumer that left just now misses nothing it could still act on.
        Ok(()) => out.send(Event::Finished).unwrap_or(()),
        Err(Failure::Db(e)) => out.fail(e),
        Err(Failure::Gone) => {}
    }
    out.finish(conn);
    drop(scripts);
    // Dropping the job (its link's `done`) tells the session the plan is over: only now,
    // after the state is published and the stream has ended.
    drop(job);
    state
}

/// The state of a connection between plans.
fn current(conn: &Connection, failed: bool) -> TxnState {
    if failed {
        TxnState::Failed
    } else if conn.is_autocommit() {
        TxnState::Idle
    } else {
        TxnState::InTransaction
    }
}

/// The state once the plan is over. After an error: an implicit transaction is rolled back
/// (PostgreSQL's implicit block), an explicit one is failed, whether or not SQLite already
/// rolled it back; an error outside any transaction changes nothing.
fn state_after(conn: &Connection, ok: bool, block: &mut Block) -> TxnState {
    if ok {
        return current(conn, block.failed);
    }
    if block.implicit {
        rollback(conn);
        block.implicit = false;
    }
    if block.failed || block.inside || !conn.is_autocommit() {
        TxnState::Failed
    } else {
        TxnState::Idle
    }
}

/// The steps of a session plan.
fn run_plan(
    conn: &Connection,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
    block: &mut Block,
) -> Result<(), Failure> {
    if plan.mode == ExecMode::Describe {
        // PostgreSQL refuses even a Parse in a failed transaction, and a statement that
        // cannot be prepared inside a transaction fails it.
        if block.failed {
            return Err(in_failed().into());
        }
        block.inside = !conn.is_autocommit();
        return describe_steps(conn, plan, scripts, out);
    }
    if plan.mode == ExecMode::Transaction {
        return run_transaction_request(conn, plan, scripts, out, block);
    }
    let total = plan.steps.len();
    for (i, (step, pieces)) in plan.steps.iter().zip(scripts).enumerate() {
        out.send(Event::Step(i))?;
        let rest = if i == 0 && block.failed {
            leave_failed(conn, step, pieces, out, block).map_err(|f| at_step(f, i, total))?;
            match pieces.get(1..) {
                Some([]) | None => continue,
                Some(rest) => rest,
            }
        } else {
            pieces.as_slice()
        };
        run_session_step(conn, step, rest, out, block).map_err(|f| at_step(f, i, total))?;
    }
    Ok(())
}

/// An all-or-nothing request (`ExecMode::Transaction`): outside a transaction, exactly as
/// without a session; inside one it is refused (SQLite cannot nest `BEGIN`).
fn run_transaction_request(
    conn: &Connection,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
    block: &mut Block,
) -> Result<(), Failure> {
    if block.failed {
        return Err(in_failed().into());
    }
    if !conn.is_autocommit() {
        block.inside = true;
        return Err(DbError::new(
            SqlState::ACTIVE_SQL_TRANSACTION,
            "a transaction request cannot run inside an open transaction",
        )
        .into());
    }
    run_self_contained(conn, Role::Writer, plan, scripts, out)
}

/// In a failed transaction, the plan's first statement must end it: `ROLLBACK` and `COMMIT`
/// roll back, `ROLLBACK TO` returns to the savepoint. Anything else is refused unrun.
///
/// # Errors
/// `25P02` for any other statement; SQLite's error when `ROLLBACK TO` fails.
fn leave_failed(
    conn: &Connection,
    step: &Statement,
    pieces: &[Piece<'_>],
    out: &Output,
    block: &mut Block,
) -> Result<(), Failure> {
    let Some(&piece) = pieces.first() else {
        return Err(in_failed().into());
    };
    match classify_text(piece.text) {
        // PostgreSQL ends a failed transaction on COMMIT too, reporting ROLLBACK.
        StmtKind::Transaction(TxnControl::Commit | TxnControl::Rollback) => {
            if !conn.is_autocommit() {
                control(conn, out, "ROLLBACK")?;
            }
            block.failed = false;
            no_op(out)
        }
        StmtKind::Transaction(TxnControl::Savepoint) if is_rollback_to(piece.text) => {
            run_step(conn, step, &[piece], out)?;
            block.failed = false;
            Ok(())
        }
        _ => Err(in_failed().into()),
    }
}

/// One step: like a self-contained step when it holds no transaction control (several
/// statements outside a transaction run all-or-nothing); otherwise the runs of statements
/// between transaction-control statements, and each of those on its own.
///
/// Parameters are checked per run of statements, so a step whose statements on both sides
/// of a transaction-control statement use parameters is refused (`22023`).
fn run_session_step(
    conn: &Connection,
    step: &Statement,
    pieces: &[Piece<'_>],
    out: &Output,
    block: &mut Block,
) -> Result<(), Failure> {
    let controls = pieces
        .iter()
        .map(|p| match classify_text(p.text) {
            StmtKind::Transaction(kind) => Some(kind),
            _ => None,
        })
        .collect::<Vec<_>>();
    if controls.iter().all(Option::is_none) {
        block.inside = !conn.is_autocommit();
        let implicit = pieces.len() > 1 && conn.is_autocommit();
        if implicit {
            control(conn, out, "BEGIN IMMEDIATE")?;
            block.implicit = true;
        }
        run_step(conn, step, pieces, out)?;
        if implicit {
            out.check()?;
            control(conn, out, "COMMIT")?;
            block.implicit = false;
        }
        return Ok(());
    }
    let mut start = 0;
    for (j, kind) in controls.iter().enumerate() {
        let Some(kind) = *kind else { continue };
        if start < j {
            block.inside = !conn.is_autocommit();
            run_step(conn, step, &pieces[start..j], out)?;
        }
        run_control(conn, step, kind, pieces[j], out, block)?;
        start = j + 1;
    }
    if start < pieces.len() {
        block.inside = !conn.is_autocommit();
        run_step(conn, step, &pieces[start..], out)?;
    }
    Ok(())
}

/// One transaction-control statement.
fn run_control(
    conn: &Connection,
    step: &Statement,
    kind: TxnControl,
    piece: Piece<'_>,
    out: &Output,
    block: &mut Block,
) -> Result<(), Failure> {
    out.check()?;
    let open = !conn.is_autocommit();
    block.inside = open;
    match kind {
        // PostgreSQL: WARNING there is already a transaction in progress.
        TxnControl::Begin if open => no_op(out),
        // PostgreSQL: WARNING there is no transaction in progress.
        TxnControl::Commit | TxnControl::Rollback if !open => no_op(out),
        TxnControl::Savepoint => run_step(conn, step, &[piece], out),
        TxnControl::Begin | TxnControl::Commit | TxnControl::Rollback => {
            let result = match canonical(kind, piece.text) {
                Some(sql) => control(conn, out, sql).and_then(|()| no_op(out)),
                None => run_step(conn, step, &[piece], out),
            };
            if result.is_err() && kind == TxnControl::Commit && !conn.is_autocommit() {
                // PostgreSQL: a COMMIT that fails ends the transaction anyway.
                rollback(conn);
                block.inside = false;
            }
            result
        }
    }
}

/// The events of a statement that returns no rows and changed nothing.
fn no_op(out: &Output) -> Result<(), Failure> {
    out.send(Event::Columns(Vec::new().into()))?;
    out.send(Event::Done(ExecSummary::default()))
}

/// SQLite's spelling of a `BEGIN`/`COMMIT`/`ROLLBACK` written in either dialect, when the
/// text is one of the plain forms; `None` leaves the text to SQLite (which may reject it,
/// e.g. `BEGIN READ ONLY` or `COMMIT AND CHAIN`, rather than silently ignore it).
///
/// `BEGIN` becomes `BEGIN IMMEDIATE`: the write lock is taken up front. PostgreSQL's
/// isolation levels are accepted and mean SQLite's serializable transactions.
fn canonical(kind: TxnControl, text: &str) -> Option<&'static str> {
    const BEGIN_WORDS: &[&str] = &[
        "WORK",
        "TRANSACTION",
        "DEFERRED",
        "IMMEDIATE",
        "EXCLUSIVE",
        "ISOLATION",
        "LEVEL",
        "SERIALIZABLE",
        "REPEATABLE",
        "READ",
        "COMMITTED",
        "UNCOMMITTED",
        "WRITE",
    ];
    let text = text.trim().trim_end_matches(';');
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.trim_end_matches(',').to_ascii_uppercase())
        .collect();
    if words
        .iter()
        .any(|w| w.is_empty() || !w.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return None;
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let plain_end = |rest: &[&str]| {
        matches!(
            rest,
            [] | ["WORK" | "TRANSACTION"]
                | ["AND", "NO", "CHAIN"]
                | ["WORK" | "TRANSACTION", "AND", "NO", "CHAIN"]
        )
    };
    match (kind, words.as_slice()) {
        (TxnControl::Begin, ["BEGIN", rest @ ..] | ["START", "TRANSACTION", rest @ ..])
            if rest.iter().all(|w| BEGIN_WORDS.contains(w)) =>
        {
            Some("BEGIN IMMEDIATE")
        }
        (TxnControl::Commit, ["COMMIT" | "END", rest @ ..]) if plain_end(rest) => Some("COMMIT"),
        (TxnControl::Rollback, ["ROLLBACK" | "ABORT", rest @ ..]) if plain_end(rest) => {
            Some("ROLLBACK")
        }
        _ => None,
    }
}

/// True for `ROLLBACK [TRANSACTION|WORK] TO …` (which the classifier files with savepoints).
fn is_rollback_to(text: &str) -> bool {
    matches!(first_keyword(text).as_str(), "ROLLBACK" | "ABORT")
}

/// The first word of a statement, upper-cased, after whitespace and comments.
fn first_keyword(text: &str) -> String {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    rest.chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// `25P02`.
fn in_failed() -> DbError {
    DbError::new(SqlState::IN_FAILED_SQL_TRANSACTION, IN_FAILED_MESSAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_accepts_plain_forms_of_both_dialects() {
        use TxnControl::{Begin, Commit, Rollback};
        for text in [
            "BEGIN",
            "begin;",
            "BEGIN IMMEDIATE",
            "BEGIN TRANSACTION",
            "START TRANSACTION",
            "BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE",
            "start transaction isolation level read committed",
        ] {
            assert_eq!(canonical(Begin, text), Some("BEGIN IMMEDIATE"), "{text}");
        }
        for text in [
            "COMMIT",
            "END",
            "COMMIT WORK",
            "end transaction;",
            "COMMIT AND NO CHAIN",
        ] {
            assert_eq!(canonical(Commit, text), Some("COMMIT"), "{text}");
        }
        for text in ["ROLLBACK", "ABORT", "ROLLBACK WORK", "rollback transaction"] {
            assert_eq!(canonical(Rollback, text), Some("ROLLBACK"), "{text}");
        }
        for (kind, text) in [
            (Begin, "BEGIN READ ONLY"),
            (Begin, "START"),
            (Begin, "BEGIN /* x */"),
            (Commit, "COMMIT AND CHAIN"),
            (Commit, "COMMIT PREPARED 'x'"),
            (Rollback, "ROLLBACK PREPARED 'x'"),
        ] {
            assert_eq!(canonical(kind, text), None, "{text}");
        }
    }

    #[test]
    fn rollback_to_is_told_from_savepoint_and_release() {
        assert!(is_rollback_to("ROLLBACK TO sp"));
        assert!(is_rollback_to(
            "  -- c\n/* d */ rollback transaction to savepoint sp"
        ));
        assert!(!is_rollback_to("SAVEPOINT sp"));
        assert!(!is_rollback_to("RELEASE sp"));
    }
}
