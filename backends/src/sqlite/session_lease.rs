//! The writer's side of a `SqliteSession`: the link a session's job carries, and the
//! session lease.
//!
//! Owns `SessionLink` (what travels with a session's job), `SessionShared` (the state the
//! writer publishes for `SqliteSession::txn_state` and how a lease ended) and the lease loop:
//! once a session's plan leaves a transaction open, the writer serves only that session's
//! channel until the transaction ends, the session goes away, it stays idle too long, or the
//! backend shuts down; every exit rolls back what is still open. (`lease` is the other kind:
//! an explicit `BEGIN IMMEDIATE … commit()` for imports.) Must not know how a plan runs (see
//! `txn`) or anything async.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use starbase_protocol::{DbError, SqlState};
use tokio::sync::oneshot;

use super::job::Job;
use super::threads::Shared;
use super::txn;
use crate::error::Error;
use crate::result::TxnState;

/// How often a leased writer that waits for its session checks whether the backend is
/// shutting down (the session channel cannot be woken by `shutdown`).
const SHUTDOWN_POLL: Duration = Duration::from_millis(50);

/// Message of the error a session gets after its idle transaction was rolled back
/// (PostgreSQL's wording; PostgreSQL also closes the connection, we keep the session).
pub(super) const IDLE_TIMEOUT_MESSAGE: &str =
    "terminating connection due to idle-in-transaction timeout";

/// `25P03` `idle_in_transaction_session_timeout`.
pub(super) fn idle_timeout_error() -> DbError {
    DbError::new(SqlState::IDLE_IN_TRANSACTION_TIMEOUT, IDLE_TIMEOUT_MESSAGE)
}

/// Why the writer ended a lease on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LeaseEnd {
    /// The session sent nothing for its idle-in-transaction timeout.
    IdleTimeout,
    /// The backend is shutting down.
    Shutdown,
}

/// State shared by a session and the writer serving it.
#[derive(Debug, Default)]
pub(super) struct SessionShared {
    /// The `TxnState` as of the end of the last plan (or the end of the lease).
    state: AtomicU8,
    /// Set when the writer ended the lease on its own and no job was there to be told; the
    /// session reports it on its next plan. Also the lock that makes "send a job on the
    /// lease" and "end the lease" exclusive, so no job is lost in between.
    gate: Mutex<Option<LeaseEnd>>,
}

impl SessionShared {
    /// The state the writer last published.
    pub(super) fn state(&self) -> TxnState {
        match self.state.load(Ordering::Acquire) {
            1 => TxnState::InTransaction,
            2 => TxnState::Failed,
            _ => TxnState::Idle,
        }
    }

    /// Publishes the state; called before the plan's last event is sent, so a consumer that
    /// saw the end of the stream reads the new state.
    pub(super) fn set_state(&self, state: TxnState) {
        let code = match state {
            TxnState::Idle => 0,
            TxnState::InTransaction => 1,
            TxnState::Failed => 2,
        };
        self.state.store(code, Ordering::Release);
    }

    /// The gate; see the field.
    pub(super) fn gate(&self) -> MutexGuard<'_, Option<LeaseEnd>> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The channel a session's later jobs arrive on while the writer is leased to it.
#[derive(Debug)]
pub(super) struct Lease {
    pub(super) rx: Receiver<Job>,
    pub(super) idle_timeout: Option<Duration>,
}

/// What a session's job carries besides the plan.
#[derive(Debug)]
pub(super) struct SessionLink {
    pub(super) shared: Arc<SessionShared>,
    /// Present on a job sent while the session is idle: the writer keeps it if the plan
    /// leaves a transaction open, and drops it otherwise.
    pub(super) lease: Option<Lease>,
    /// Dropped with the job: tells the session the plan is over (whatever thread ran it).
    pub(super) _done: oneshot::Sender<()>,
}

/// Runs a session's job that arrived on the writer's own queue; when it leaves a transaction
/// open, serves the session's lease until the transaction is over.
pub(super) fn run_session_job(conn: &mut Connection, mut job: Job, shared: &Shared) {
    let Some(link) = job.session.as_mut() else {
        return;
    };
    let lease = link.lease.take();
    let session = Arc::clone(&link.shared);
    // A session sends on the writer's queue only while it is idle.
    let mut failed = false;
    if txn::run(conn, job, &mut failed) == TxnState::Idle {
        return;
    }
    match lease {
        Some(lease) => serve(conn, &lease, &session, failed, shared),
        None => {
            tracing::error!("a session job without a lease opened a transaction");
            rollback(conn);
            session.set_state(TxnState::Idle);
        }
    }
}

/// The lease loop: only this session's jobs run until its transaction is over.
fn serve(
    conn: &mut Connection,
    lease: &Lease,
    session: &SessionShared,
    mut failed: bool,
    shared: &Shared,
) {
    tracing::debug!("SQLite writer leased to a session");
    let mut idle_since = Instant::now();
    loop {
        let wait = lease.idle_timeout.map_or(SHUTDOWN_POLL, |t| {
            t.saturating_sub(idle_since.elapsed()).min(SHUTDOWN_POLL)
        });
        match lease.rx.recv_timeout(wait) {
            Ok(job) if shared.closing.load(Ordering::Acquire) => {
                job.reject(Error::Closed);
                return end(conn, lease, session, LeaseEnd::Shutdown);
            }
            Ok(job) => {
                if txn::run(conn, job, &mut failed) == TxnState::Idle {
                    tracing::debug!("SQLite writer lease over: transaction ended");
                    return;
                }
                idle_since = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) if shared.closing.load(Ordering::Acquire) => {
                return end(conn, lease, session, LeaseEnd::Shutdown);
            }
            Err(RecvTimeoutError::Timeout) => {
                if lease
                    .idle_timeout
                    .is_some_and(|t| idle_since.elapsed() >= t)
                {
                    tracing::info!("rolling back a transaction idle for too long");
                    return end(conn, lease, session, LeaseEnd::IdleTimeout);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                tracing::debug!("session gone in a transaction; rolling back");
                rollback(conn);
                session.set_state(TxnState::Idle);
                return;
            }
        }
    }
}

/// Ends a lease on the writer's initiative: rolls back, then tells the session, either
/// through the jobs that are already waiting or, when none is, on its next plan.
fn end(conn: &Connection, lease: &Lease, session: &SessionShared, why: LeaseEnd) {
    rollback(conn);
    session.set_state(TxnState::Idle);
    let mut gate = session.gate();
    let mut told = false;
    while let Ok(job) = lease.rx.try_recv() {
        told = true;
        job.reject(match why {
            LeaseEnd::IdleTimeout => Error::Db(idle_timeout_error()),
            LeaseEnd::Shutdown => Error::Closed,
        });
    }
    if !told {
        *gate = Some(why);
    }
}

/// Rolls back whatever is open on the writer (nothing to do in autocommit).
pub(super) fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "rollback failed");
    }
}
