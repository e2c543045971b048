//! The task that runs one plan of an external backend and owns its connection meanwhile.
//!
//! Owns `Tasks` (the tracker and cancellation token every plan task belongs to),
//! `spawn_plan` (acquire or reuse a connection, run the plan with the statement timeout,
//! cancel the server-side statement when the consumer leaves, the deadline passes or the
//! backend shuts down) and what happens to the connection afterwards (back to the pool,
//! back to the session, or closed when its state is uncertain). Must not know any driver.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use starbase_protocol::{DbError, Plan, SqlState};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{Canceller, Conn, Source};
use super::out::{Failure, Out, SHUTDOWN_MESSAGE, Stop, StopFlag};
use super::run::{Scope, run_plan};
use crate::result::{CHANNEL_DEPTH, ResultStream, TxnState};

/// Owner of every plan task of one backend.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
}

impl Tasks {
    /// True once `shutdown` was called.
    pub(crate) fn is_closing(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Cancels every running plan (`57P01`) and waits for the tasks to end.
    pub(crate) async fn shutdown(&self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Cancelled when the backend shuts down.
    pub(crate) fn stopping(&self) -> &CancellationToken {
        &self.token
    }

    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }
}

/// A session's transaction state, published by its plan task before the stream ends.
#[derive(Debug, Default)]
pub(crate) struct SharedState(AtomicU8);

impl SharedState {
    pub(crate) fn set(&self, state: TxnState) {
        let v = match state {
            TxnState::Idle => 0,
            TxnState::InTransaction => 1,
            TxnState::Failed => 2,
        };
        self.0.store(v, Ordering::Release);
    }

    pub(crate) fn get(&self) -> TxnState {
        match self.0.load(Ordering::Acquire) {
            1 => TxnState::InTransaction,
            2 => TxnState::Failed,
            _ => TxnState::Idle,
        }
    }
}

/// What a finished plan task hands back to its session.
#[derive(Debug)]
pub(crate) struct Returned<C> {
    /// The connection, unless it was closed.
    pub(crate) conn: Option<C>,
    /// The transaction state after the plan.
    pub(crate) state: TxnState,
}

/// One plan to run.
#[derive(Debug)]
pub(crate) struct PlanJob<C> {
    pub(crate) plan: Plan,
    pub(crate) timeout: Option<Duration>,
    /// The session's pinned connection (while its transaction is open).
    pub(crate) pinned: Option<C>,
    pub(crate) scope: Scope,
    pub(crate) shared: Arc<SharedState>,
}

/// Spawns the task running `job`; its connection comes back on the receiver.
/// Runs a self-contained plan on a pooled connection of `source` (what `execute` of every
/// external backend does).
///
/// # Errors
/// [`crate::Error::Closed`] when the backend is shutting down.
pub(crate) fn execute_plan<S: Source>(
    source: &S,
    plan: starbase_protocol::Plan,
    opts: &super::ExecOptions,
) -> Result<ResultStream, crate::Error> {
    if source.tasks().is_closing() {
        return Err(crate::Error::Closed);
    }
    let (stream, _) = spawn_plan(
        source,
        PlanJob {
            plan,
            timeout: opts.statement_timeout,
            pinned: None,
            scope: Scope::Plan,
            shared: Default::default(),
        },
    );
    Ok(stream)
}

pub(crate) fn spawn_plan<S: Source>(
    source: &S,
    job: PlanJob<S::Conn>,
) -> (ResultStream, oneshot::Receiver<Returned<S::Conn>>) {
    let (tx, rx) = ResultStream::channel(CHANNEL_DEPTH);
    let (back, returned) = oneshot::channel();
    let source = source.clone();
    let tasks = source.tasks().clone();
    tasks.spawn(async move {
        let out = Out::new(tx, StopFlag::default());
        let end = run_task(&source, job, out).await;
        if let Err(end) = back.send(end) {
            // The session is gone: never pool a connection with an open transaction.
            if let Some(conn) = end.conn
                && end.state != TxnState::Idle
            {
                release_in_transaction(conn).await;
            }
        }
    });
    (rx, returned)
}

/// Rolls back and pools a connection left in a transaction, or closes it.
pub(crate) async fn release_in_transaction<C: Conn>(mut conn: C) {
    if conn.control("ROLLBACK").await.is_err() {
        conn.discard().await;
    }
}

async fn run_task<S: Source>(source: &S, job: PlanJob<S::Conn>, mut out: Out) -> Returned<S::Conn> {
    let mut state = job.shared.get();
    let token = source.tasks().token.clone();
    let mut conn = match checkout(source, job.pinned, &token).await {
        Ok(conn) => conn,
        Err(e) => {
            job.shared.set(state);
            out.fail(e).await;
            return Returned { conn: None, state };
        }
    };
    let flag = out.stop.clone();
    let run = RunSpec {
        plan: &job.plan,
        timeout: job.timeout,
        scope: job.scope,
    };
    let (result, gone) = drive(&mut conn, &run, &mut out, &mut state, &token).await;
    // A cancel may still be on its way to the server: such a connection is not reused.
    let stopped = flag.get() != Stop::None;
    let discard = conn.is_broken()
        || gone
        || matches!(result, Err(Failure::Gone))
        || (stopped && state == TxnState::Idle);
    if discard && state != TxnState::Idle {
        // The transaction dies with its connection.
        state = TxnState::Failed;
    }
    job.shared.set(state);
    // A statement the server ended early without an error (MySQL's interrupted `SLEEP`)
    // still fails the plan when we stopped it.
    let result = match (result, flag.error()) {
        (Ok(()), Some(e)) => Err(Failure::Db(e)),
        (result, _) => result,
    };
    // Outside a transaction the connection goes back to the pool before the stream ends,
    // so a consumer's next request (or a pool of one) finds it free.
    let (keep, closing) = match (discard, state) {
        (true, _) => (None, Some(conn)),
        (false, TxnState::Idle) => (None, None),
        (false, _) => (Some(conn), None),
    };
    match result {
        Ok(()) => out.finish().await,
        Err(Failure::Db(e)) => out.fail(flag.explain(e)).await,
        Err(Failure::Gone) => {}
    }
    if let Some(conn) = closing {
        conn.discard().await;
    }
    Returned { conn: keep, state }
}

/// The session's pinned connection, or one from the pool (unless the backend shuts down).
async fn checkout<S: Source>(
    source: &S,
    pinned: Option<S::Conn>,
    token: &CancellationToken,
) -> Result<S::Conn, DbError> {
    match pinned {
        Some(conn) => Ok(conn),
        None => tokio::select! {
            conn = source.acquire() => conn,
            () = token.cancelled() => Err(DbError::new(SqlState::ADMIN_SHUTDOWN, SHUTDOWN_MESSAGE)),
        },
    }
}

/// What `drive` runs.
struct RunSpec<'a> {
    plan: &'a Plan,
    timeout: Option<Duration>,
    scope: Scope,
}

/// Runs the plan, cancelling its statement on the server when the deadline passes, the
/// consumer drops the stream (then the second value is true) or the backend shuts down.
async fn drive<C: Conn>(
    conn: &mut C,
    job: &RunSpec<'_>,
    out: &mut Out,
    state: &mut TxnState,
    token: &CancellationToken,
) -> (Result<(), Failure>, bool) {
    let canceller = conn.canceller();
    let watcher = out.watcher();
    let flag = out.stop.clone();
    let run = run_plan(conn, job.plan, out, state, job.scope);
    tokio::pin!(run);
    let deadline = job
        .timeout
        .filter(|d| !d.is_zero())
        .and_then(|d| Instant::now().checked_add(d));
    let timer = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => pending().await,
        }
    };
    tokio::select! {
        r = &mut run => (r, false),
        () = timer => { flag.set(Stop::Timeout); canceller.cancel().await; (run.await, false) }
        () = watcher.closed() => { canceller.cancel().await; (run.await, true) }
        () = token.cancelled() => { flag.set(Stop::Shutdown); canceller.cancel().await; (run.await, false) }
    }
}
