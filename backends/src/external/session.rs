//! Interactive sessions of an external backend: plans whose transaction may span several of
//! them, as a PostgreSQL connection's does.
//!
//! Owns `SessionCore`: one pooled connection pinned while a transaction is open (returned to
//! the pool after each plan otherwise), waiting for the previous plan before the next one,
//! and never letting a connection with an open transaction back into the pool. The
//! PostgreSQL and MySQL session types wrap it. Must not know any driver.

use std::sync::Arc;

use starbase_protocol::Plan;
use tokio::sync::oneshot;

use super::conn::Source;
use super::run::Scope;
use super::task::{PlanJob, Returned, SharedState, release_in_transaction, spawn_plan};
use crate::error::Error;
use crate::result::{ResultStream, TxnState};

/// The backend-independent part of a session.
#[derive(Debug)]
pub(crate) struct SessionCore<S: Source> {
    source: S,
    pinned: Option<S::Conn>,
    pending: Option<oneshot::Receiver<Returned<S::Conn>>>,
    shared: Arc<SharedState>,
}

impl<S: Source> SessionCore<S> {
    pub(crate) fn new(source: S) -> Self {
        Self {
            source,
            pinned: None,
            pending: None,
            shared: Arc::new(SharedState::default()),
        }
    }

    /// Runs `plan` after the previous one finished, on the pinned connection when a
    /// transaction is open.
    pub(crate) async fn execute(
        &mut self,
        plan: Plan,
        timeout: Option<std::time::Duration>,
    ) -> Result<ResultStream, Error> {
        self.settle().await;
        if self.source.tasks().is_closing() {
            return Err(Error::Closed);
        }
        let (stream, returned) = spawn_plan(
            &self.source,
            PlanJob {
                plan,
                timeout,
                pinned: self.pinned.take(),
                scope: Scope::Session,
                shared: Arc::clone(&self.shared),
            },
        );
        self.pending = Some(returned);
        Ok(stream)
    }

    pub(crate) fn txn_state(&self) -> TxnState {
        self.shared.get()
    }

    /// Waits for the last plan, then rolls back an open transaction and returns the
    /// connection to the pool.
    pub(crate) async fn close(mut self) {
        self.settle().await;
        if let Some(conn) = self.pinned.take() {
            release_in_transaction(conn).await;
        }
        self.shared.set(TxnState::Idle);
    }

    /// Waits for the previous plan; keeps its connection only while a transaction is open.
    async fn settle(&mut self) {
        let Some(returned) = self.pending.take() else {
            return;
        };
        // An error means the task ended without handing anything back (a panic).
        if let Ok(back) = returned.await
            && back.state != TxnState::Idle
        {
            self.pinned = back.conn;
        }
    }
}

impl<S: Source> Drop for SessionCore<S> {
    fn drop(&mut self) {
        let Some(conn) = self.pinned.take() else {
            return;
        };
        // Never pool a connection with an open transaction: roll it back first.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.source.tasks().spawn(release_in_transaction(conn));
        } else {
            crate::external::conn::Conn::detach(conn);
        }
    }
}
