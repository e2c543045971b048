//! Runs a whole plan on one connection: modes, transactions, and the end of the stream.
//!
//! Owns the plan-level rules: a reader confirms that every statement really is read-only
//! (or hands the job back for the writer), `Transaction` plans run inside `BEGIN … COMMIT`,
//! a multi-statement step runs all-or-nothing, nothing is ever left open on a connection,
//! and the stream ends with `Finished` or one error. Must not know about threads or
//! channels beyond the job's `Output`.

use rusqlite::Connection;
use starbase_protocol::sql::classify::classify as classify_text;
use starbase_protocol::{DbError, ExecMode, Plan, SqlState, Statement, StmtKind};

use super::error::classify;
use super::job::{Failure, Job, Output};
use super::split::{Piece, split};
use super::step::{describe_step, prepare_piece, run_step};
use crate::result::Event;

/// Which connection runs the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The only read-write connection.
    Writer,
    /// A read-only connection.
    Reader,
    /// A read-only connection inside a read transaction it keeps after the plan (see
    /// `snapshot`): no implicit transaction of its own, nothing to roll back at the end.
    Snapshot,
    /// The writer inside a lease's transaction: steps run in order inside it, transaction
    /// control is refused, and the transaction stays open when the plan ends.
    Leased,
}

impl Role {
    fn begin(self) -> &'static str {
        match self {
            // Take the write lock up front: a deferred transaction that reads first could
            // not upgrade once another connection's snapshot is newer.
            Role::Writer | Role::Leased => "BEGIN IMMEDIATE",
            Role::Reader | Role::Snapshot => "BEGIN",
        }
    }
}

/// Runs `job` on `conn`. Returns the job untouched when a reader finds a statement that is
/// not read-only, for the writer to run instead.
pub(super) fn run_job(conn: &mut Connection, role: Role, job: Job) -> Option<Job> {
    if job.tx.is_closed() {
        return None;
    }
    let scripts: Vec<Vec<Piece<'_>>> = job.plan.steps.iter().map(|s| split(&s.sql)).collect();
    let describe = job.plan.mode == ExecMode::Describe;
    if matches!(role, Role::Reader | Role::Snapshot)
        && !describe
        && !confirm_read_only(conn, &job.plan, &scripts)
    {
        drop(scripts);
        return Some(job);
    }
    let out = Output::start(conn, &job);
    match run_plan(conn, role, &job.plan, &scripts, &out) {
        // A consumer that left just now misses nothing it could still act on.
        Ok(()) => out.send(Event::Finished).unwrap_or(()),
        Err(Failure::Db(e)) => out.fail(e),
        Err(Failure::Gone) => {}
    }
    out.finish(conn);
    None
}

/// Runs `job` on the caller's thread, to the end, when it is one short read: one statement,
/// read-only by its text and by SQLite, done within `max_ticks` progress-handler calls and
/// one row batch. Returns the job untouched otherwise (also when the connection was busy),
/// for the SQLite threads to run as usual; what it ran then had no effect.
pub(super) fn run_inline(
    conn: &mut Connection,
    role: Role,
    job: Job,
    max_ticks: u32,
) -> Option<Job> {
    if job.tx.is_closed() {
        return None;
    }
    let scripts: Vec<Vec<Piece<'_>>> = job.plan.steps.iter().map(|s| split(&s.sql)).collect();
    let single = matches!(scripts.as_slice(), [pieces] if pieces.len() == 1);
    if !single || !confirm_read_only(conn, &job.plan, &scripts) {
        drop(scripts);
        return Some(job);
    }
    let out = Output::collecting(conn, &job, max_ticks);
    let outcome = run_plan(conn, role, &job.plan, &scripts, &out);
    let give_up = out.overflowed()
        || matches!(&outcome, Err(Failure::Db(e)) if e.code == SqlState::LOCK_NOT_AVAILABLE);
    if !give_up {
        match outcome {
            Ok(()) => out.send(Event::Finished).unwrap_or(()),
            Err(Failure::Db(e)) => out.fail(e),
            Err(Failure::Gone) => {}
        }
    }
    let events = out.finish_collected(conn);
    drop(scripts);
    if give_up {
        return Some(job);
    }
    // The stream's channel is new and holds nothing yet: this cannot be full.
    let _ = job.tx.try_send(events);
    None
}

/// True when every statement of every step is read-only by its text and by SQLite's own
/// judgement of the prepared statement. Transaction control is not (it belongs to the writer).
fn confirm_read_only(conn: &Connection, plan: &Plan, scripts: &[Vec<Piece<'_>>]) -> bool {
    scripts.iter().zip(&plan.steps).all(|(pieces, step)| {
        // Preparing here fills the statement cache, so a restricted step's rule must be in
        // force already: the authorizer is only asked on prepare.
        let _access = super::access::Scope::enter(step.access.as_ref());
        pieces.iter().all(|&piece| {
            classify_text(piece.text) == StmtKind::Read
                && match prepare_piece(conn, piece) {
                    Ok(stmts) => stmts.iter().all(|s| s.readonly()),
                    // The reader reports the error itself, as the writer would.
                    Err(_) => true,
                }
        })
    })
}

/// Runs the steps in the plan's mode; whatever transaction is still open afterwards is
/// rolled back (an HTTP request has no session to continue it in).
pub(super) fn run_plan(
    conn: &Connection,
    role: Role,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
) -> Result<(), Failure> {
    if plan.mode == ExecMode::Describe {
        return describe_steps(conn, plan, scripts, out);
    }
    if role == Role::Leased {
        return run_leased(conn, plan, scripts, out);
    }
    if role == Role::Snapshot {
        // Inside the reader's held transaction, which outlives the plan.
        return run_steps(conn, plan, scripts, out);
    }
    let result = match plan.mode {
        ExecMode::Describe => Ok(()),
        ExecMode::Transaction => run_transaction(conn, role, plan, scripts, out),
        ExecMode::Single | ExecMode::Batch => run_in_order(conn, role, plan, scripts, out),
    };
    if conn.is_autocommit() {
        return result;
    }
    out.arm(false);
    if let Err(e) = conn.execute_batch("ROLLBACK") {
        tracing::error!(error = %e, "rollback failed");
    }
    result?;
    Err(DbError::new(
        SqlState::ACTIVE_SQL_TRANSACTION,
        "transaction was left open; its statements were rolled back",
    )
    .with_hint("send the whole transaction in one request")
    .into())
}

/// Every step in order inside the lease's open transaction; the first error stops it (the
/// lease holder decides whether to roll back).
fn run_leased(
    conn: &Connection,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
) -> Result<(), Failure> {
    refuse_transaction_control(plan, scripts, "a leased transaction")?;
    run_steps(conn, plan, scripts, out)
}

/// `BEGIN`, every step, `COMMIT`; the first error stops it (the caller rolls back).
fn run_transaction(
    conn: &Connection,
    role: Role,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
) -> Result<(), Failure> {
    refuse_transaction_control(plan, scripts, "a transaction request")?;
    control(conn, out, role.begin())?;
    run_steps(conn, plan, scripts, out)?;
    out.check()?;
    control(conn, out, "COMMIT")
}

/// `25001` naming the first step that is transaction control (`inside` says where).
fn refuse_transaction_control(
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    inside: &str,
) -> Result<(), Failure> {
    let total = plan.steps.len();
    match plan
        .steps
        .iter()
        .zip(scripts)
        .position(|(step, pieces)| is_transaction_control(step, pieces))
    {
        Some(i) => Err(at_step(
            DbError::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                format!("transaction control statements are not allowed inside {inside}"),
            )
            .into(),
            i,
            total,
        )),
        None => Ok(()),
    }
}

/// Describes every step in order (nothing runs), each announced with `Step`.
pub(super) fn describe_steps(
    conn: &Connection,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
) -> Result<(), Failure> {
    let total = plan.steps.len();
    for (i, (pieces, step)) in scripts.iter().zip(&plan.steps).enumerate() {
        out.send(Event::Step(i))?;
        let _access = super::access::Scope::enter(step.access.as_ref());
        describe_step(pieces, conn, out).map_err(|f| at_step(f, i, total))?;
    }
    Ok(())
}

/// Every step in order, each announced with `Step`; the first error stops it.
fn run_steps(
    conn: &Connection,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
) -> Result<(), Failure> {
    let total = plan.steps.len();
    for (i, (step, pieces)) in plan.steps.iter().zip(scripts).enumerate() {
        out.send(Event::Step(i))?;
        run_step(conn, step, pieces, out).map_err(|f| at_step(f, i, total))?;
    }
    Ok(())
}

/// Each step in order, stopping at the first error. A step of several statements (and no
/// transaction control of its own) runs all-or-nothing in an implicit transaction.
fn run_in_order(
    conn: &Connection,
    role: Role,
    plan: &Plan,
    scripts: &[Vec<Piece<'_>>],
    out: &Output,
) -> Result<(), Failure> {
    let total = plan.steps.len();
    for (i, (step, pieces)) in plan.steps.iter().zip(scripts).enumerate() {
        let implicit =
            pieces.len() > 1 && conn.is_autocommit() && !is_transaction_control(step, pieces);
        if implicit {
            control(conn, out, role.begin())?;
        }
        out.send(Event::Step(i))?;
        run_step(conn, step, pieces, out).map_err(|f| at_step(f, i, total))?;
        if implicit {
            out.check()?;
            control(conn, out, "COMMIT")?;
        }
    }
    Ok(())
}

/// True when the step (or any statement in its text) is transaction control.
fn is_transaction_control(step: &Statement, pieces: &[Piece<'_>]) -> bool {
    matches!(step.kind, StmtKind::Transaction(_))
        || pieces
            .iter()
            .any(|p| matches!(classify_text(p.text), StmtKind::Transaction(_)))
}

/// Runs `BEGIN`/`COMMIT` with the progress handler off: they must not be half-interrupted.
pub(super) fn control(conn: &Connection, out: &Output, sql: &str) -> Result<(), Failure> {
    out.arm(false);
    let result = conn.execute_batch(sql).map_err(|e| classify(&e).into());
    out.arm(true);
    result
}

/// Names the failing step in the error's detail when the plan has several.
pub(super) fn at_step(failure: Failure, index: usize, total: usize) -> Failure {
    match failure {
        Failure::Db(e) if total > 1 && e.detail.is_none() => {
            Failure::Db(e.with_detail(format!("statement {} of {total}", index + 1)))
        }
        other => other,
    }
}
