//! Interactive sessions of an external backend: plans whose transaction may span several of
//! them, as a PostgreSQL connection's does.
//!
//! Owns `SessionCore`: one pooled connection pinned while a transaction is open (returned to
//! the pool after each plan otherwise), waiting for the previous plan before the next one,
//! the idle-in-transaction timeout (a watchdog task rolls back and frees a pinned
//! connection the session left idle too long; the next plan gets `25P03`), and never
//! letting a connection with an open transaction back into the pool. The PostgreSQL and
//! MySQL session types wrap it. Must not know any driver.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use starbase_protocol::{DbError, Plan, SqlState};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::SessionConfig;
use super::conn::{Conn, Source};
use super::run::Scope;
use super::task::{PlanJob, Returned, SharedState, release_in_transaction, spawn_plan};
use crate::error::Error;
use crate::result::{ResultStream, TxnState};

/// How long a session may sit in an open transaction without sending a plan, by default.
#[cfg(not(feature = "sqlite"))]
pub(crate) const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// `25P03`'s message (PostgreSQL's wording).
const IDLE_TIMEOUT_MESSAGE: &str = "terminating connection due to idle-in-transaction timeout";

/// The pinned connection, shared with the idle watchdog.
#[derive(Debug)]
struct Pinned<C> {
    conn: Option<C>,
    /// The watchdog rolled the transaction back; the next plan gets `25P03`.
    expired: bool,
}

/// The backend-independent part of a session.
#[derive(Debug)]
pub(crate) struct SessionCore<S: Source> {
    source: S,
    idle_timeout: Option<Duration>,
    pinned: Arc<Mutex<Pinned<S::Conn>>>,
    /// Cancels the keeper of the previous plan's connection (its idle watchdog).
    watchdog: Option<CancellationToken>,
    /// Fires once the previous plan is over and its connection is back in `pinned`.
    pending: Option<oneshot::Receiver<()>>,
    shared: Arc<SharedState>,
}

impl<S: Source> SessionCore<S> {
    /// A session; an idle timeout of `None` or zero: a transaction may stay idle forever.
    pub(crate) fn new(source: S, config: &SessionConfig) -> Self {
        Self {
            source,
            idle_timeout: config.idle_in_transaction_timeout.filter(|d| !d.is_zero()),
            pinned: Arc::new(Mutex::new(Pinned {
                conn: None,
                expired: false,
            })),
            watchdog: None,
            pending: None,
            shared: Arc::new(SharedState::default()),
        }
    }

    /// Runs `plan` after the previous one finished, on the pinned connection when a
    /// transaction is open.
    pub(crate) async fn execute(
        &mut self,
        plan: Plan,
        timeout: Option<Duration>,
    ) -> Result<ResultStream, Error> {
        self.settle().await;
        if self.source.tasks().is_closing() {
            return Err(Error::Closed);
        }
        let (conn, expired) = {
            let mut pinned = self.lock();
            (pinned.conn.take(), std::mem::take(&mut pinned.expired))
        };
        if expired {
            let (tx, rx) = ResultStream::channel(1);
            let error = DbError::new(SqlState::IDLE_IN_TRANSACTION_TIMEOUT, IDLE_TIMEOUT_MESSAGE);
            // The channel is new and empty: the send cannot fail.
            let _ = tx.try_send(vec![Err(Error::Db(error))]);
            return Ok(rx);
        }
        let (stream, returned) = spawn_plan(
            &self.source,
            PlanJob {
                plan,
                timeout,
                pinned: conn,
                scope: Scope::Session,
                shared: Arc::clone(&self.shared),
            },
        );
        let token = CancellationToken::new();
        let (done, pending) = oneshot::channel();
        let keeper = Keeper {
            pinned: Arc::clone(&self.pinned),
            shared: Arc::clone(&self.shared),
            idle_timeout: self.idle_timeout,
            token: token.clone(),
            stopping: self.source.tasks().stopping().clone(),
        };
        self.source.tasks().spawn(keeper.keep(returned, done));
        self.watchdog = Some(token);
        self.pending = Some(pending);
        Ok(stream)
    }

    pub(crate) fn txn_state(&self) -> TxnState {
        self.shared.get()
    }

    /// Waits for the last plan, then rolls back an open transaction and returns the
    /// connection to the pool.
    pub(crate) async fn close(mut self) {
        self.settle().await;
        let conn = self.lock().conn.take();
        if let Some(conn) = conn {
            release_in_transaction(conn).await;
        }
        self.shared.set(TxnState::Idle);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pinned<S::Conn>> {
        lock(&self.pinned)
    }

    /// Waits for the previous plan and stops its idle watchdog.
    async fn settle(&mut self) {
        if let Some(pending) = self.pending.take() {
            // An error only means the keeper had nothing to hand back.
            let _ = pending.await;
        }
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.cancel();
        }
    }
}

fn lock<C>(pinned: &Mutex<Pinned<C>>) -> std::sync::MutexGuard<'_, Pinned<C>> {
    pinned.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes a plan's connection back for the session and watches it while it idles.
struct Keeper<C> {
    pinned: Arc<Mutex<Pinned<C>>>,
    shared: Arc<SharedState>,
    idle_timeout: Option<Duration>,
    /// Cancelled by the session's next plan, its close or its drop.
    token: CancellationToken,
    stopping: CancellationToken,
}

impl<C: Conn> Keeper<C> {
    async fn keep(self, returned: oneshot::Receiver<Returned<C>>, done: oneshot::Sender<()>) {
        let Ok(Returned {
            conn: Some(conn),
            state,
        }) = returned.await
        else {
            return;
        };
        if state == TxnState::Idle {
            return;
        }
        {
            let mut pinned = lock(&self.pinned);
            if self.token.is_cancelled() {
                // The session is gone.
                drop(pinned);
                release_in_transaction(conn).await;
                return;
            }
            pinned.conn = Some(conn);
        }
        drop(done);
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        tokio::select! {
            () = self.token.cancelled() => return,
            () = self.stopping.cancelled() => {}
            () = tokio::time::sleep(timeout) => {}
        }
        let conn = {
            let mut pinned = lock(&self.pinned);
            if self.token.is_cancelled() {
                return;
            }
            pinned.expired = pinned.conn.is_some();
            pinned.conn.take()
        };
        if let Some(conn) = conn {
            self.shared.set(TxnState::Idle);
            release_in_transaction(conn).await;
        }
    }
}

impl<S: Source> Drop for SessionCore<S> {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.cancel();
        }
        let Some(conn) = self.lock().conn.take() else {
            return;
        };
        // Never pool a connection with an open transaction: roll it back first.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.source.tasks().spawn(release_in_transaction(conn));
        } else {
            Conn::detach(conn);
        }
    }
}
