//! Writer leases: one transaction on the writer connection that spans several plans.
//!
//! Owns `WriterLease` (the async holder) and the writer thread's side of it. While a lease is
//! held the writer runs only the lease's plans, inside one `BEGIN IMMEDIATE` transaction that
//! ends with `commit()`; dropping the lease, leaving it idle past its timeout, or shutting the
//! backend down rolls it back, so the writer is never left locked. Readers keep serving
//! (WAL). This is what streaming imports (and, later, interactive sessions) build on. Must
//! not know who holds the lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use starbase_protocol::{DbError, Plan, SqlState};
use tokio::sync::oneshot;

use super::ExecOptions;
use super::error::classify;
use super::exec::{Role, run_job};
use super::job::Job;
use crate::error::Error;
use crate::result::{CHANNEL_DEPTH, ResultStream};

/// How often a waiting lease checks for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// A message from the lease holder to the writer thread.
#[derive(Debug)]
pub(super) enum LeaseMsg {
    /// Run a plan inside the transaction.
    Plan(Job),
    /// Commit and end the lease.
    Commit(oneshot::Sender<Result<(), Error>>),
}

/// The writer thread's side of a lease request.
#[derive(Debug)]
pub(super) struct LeaseRequest {
    pub(super) rx: Receiver<LeaseMsg>,
    pub(super) ready: oneshot::Sender<Result<(), Error>>,
    pub(super) idle_timeout: Duration,
}

/// A transaction on the writer, held from async code. Dropping it rolls the transaction back.
#[derive(Debug)]
pub struct WriterLease {
    tx: Sender<LeaseMsg>,
}

impl WriterLease {
    pub(super) fn new(tx: Sender<LeaseMsg>) -> Self {
        Self { tx }
    }

    /// Runs `plan` inside the lease's transaction. A failed statement leaves the transaction
    /// open (roll back by dropping the lease).
    ///
    /// # Errors
    /// `25P03` when the lease was ended by its idle timeout or by shutdown.
    pub fn execute(&mut self, plan: Plan, opts: &ExecOptions) -> Result<ResultStream, Error> {
        let deadline = opts
            .statement_timeout
            .filter(|d| !d.is_zero())
            .and_then(|d| Instant::now().checked_add(d));
        let (tx, rx) = ResultStream::channel(CHANNEL_DEPTH);
        self.tx
            .send(LeaseMsg::Plan(Job {
                plan,
                deadline,
                tx,
                session: None,
            }))
            .map_err(|_| ended())?;
        Ok(rx)
    }

    /// Commits the transaction and releases the writer.
    ///
    /// # Errors
    /// SQLite's commit error (the transaction is then rolled back), or `25P03` when the lease
    /// had already ended.
    pub async fn commit(self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(LeaseMsg::Commit(reply)).map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }
}

fn ended() -> Error {
    Error::Db(DbError::new(
        SqlState::IDLE_IN_TRANSACTION_TIMEOUT,
        "the transaction was rolled back: it stayed idle past its timeout, or the server is shutting down",
    ))
}

/// On the writer thread: holds the transaction until the lease commits, drops, idles out or
/// the backend shuts down.
pub(super) fn serve(conn: &mut Connection, request: LeaseRequest, closing: &AtomicBool) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let _ = request.ready.send(Err(Error::Db(classify(&e))));
        return;
    }
    if request.ready.send(Ok(())).is_err() {
        rollback(conn);
        return;
    }
    let mut idle_since = Instant::now();
    loop {
        if closing.load(Ordering::Acquire) {
            rollback(conn);
            return;
        }
        let left = request.idle_timeout.saturating_sub(idle_since.elapsed());
        if left.is_zero() {
            tracing::warn!("rolling back a writer lease that stayed idle past its timeout");
            rollback(conn);
            return;
        }
        match request.rx.recv_timeout(left.min(SHUTDOWN_POLL)) {
            Ok(LeaseMsg::Plan(job)) => {
                // The writer never hands a job on.
                drop(run_job(conn, Role::Leased, job));
                idle_since = Instant::now();
            }
            Ok(LeaseMsg::Commit(reply)) => {
                let result = conn
                    .execute_batch("COMMIT")
                    .map_err(|e| Error::Db(classify(&e)));
                if result.is_err() {
                    rollback(conn);
                }
                super::snapshot::Epoch::advance_on_this_thread();
                let _ = reply.send(result);
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                rollback(conn);
                return;
            }
        }
    }
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "rollback of a writer lease failed");
    }
}
