//! Interactive sessions: a sequence of plans whose transaction may span several of them, as a
//! PostgreSQL connection's does.
//!
//! Owns `SqliteSession` and `SessionConfig`: routing each plan (idle: like
//! `SqliteBackend::execute`; in a transaction: on the session's lease of the writer), waiting
//! for the previous plan before routing the next (its outcome decides where the next goes),
//! and reporting a lease the writer ended on its own. The writer side is `session_lease` and
//! `txn`. Must not know any frontend.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Statement};
use tokio::sync::oneshot;

use super::job::Job;
use super::session_lease::{Lease, LeaseEnd, SessionLink, SessionShared, idle_timeout_error};
use super::{ExecOptions, SqliteBackend};
use crate::error::Error;
use crate::result::{CHANNEL_DEPTH, ResultStream, TxnState};

/// How long a session may sit in an open transaction without sending a plan, by default.
pub const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// How a session behaves.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Roll back a transaction (and release the writer) when the session sends nothing for
    /// this long while it is open (default 60 s); the session's next plan then gets `25P03`.
    /// `None` or zero: never (only safe for trusted, well-behaved clients: the writer is
    /// held until the session commits, rolls back or is dropped).
    pub idle_in_transaction_timeout: Option<Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_in_transaction_timeout: Some(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT),
        }
    }
}

/// A session: plans that may open a transaction in one plan and end it in a later one.
///
/// While the session is idle its plans run exactly like [`SqliteBackend::execute`]'s. A plan
/// that leaves a transaction open (`BEGIN`, `START TRANSACTION`, `SAVEPOINT`, …; decided by
/// SQLite's autocommit flag after the plan, not by the text) pins the session to the
/// writer: until the transaction ends, the writer runs only this session's plans (other
/// writes queue; reads keep running on the readers and do not see the uncommitted rows).
///
/// Plans run one at a time: `execute` first waits until the previous plan has finished, so
/// read (or drop) each stream before sending the next plan.
///
/// Dropping the session rolls back its transaction and releases the writer at once.
#[derive(Debug)]
pub struct SqliteSession {
    backend: SqliteBackend,
    config: SessionConfig,
    shared: Arc<SessionShared>,
    /// Where plans go while the writer is (or may be about to be) leased to this session.
    lease: Option<SyncSender<Job>>,
    /// Closed when the last plan sent is over.
    pending: Option<oneshot::Receiver<()>>,
}

impl SqliteBackend {
    /// A session: a sequence of plans that may open a transaction in one plan and end it in a
    /// later one. Opening one costs nothing; the writer is only taken by a transaction.
    #[must_use]
    pub fn session(&self, config: SessionConfig) -> SqliteSession {
        SqliteSession {
            backend: self.clone(),
            config,
            shared: Arc::new(SessionShared::default()),
            lease: None,
            pending: None,
        }
    }
}

impl SqliteSession {
    /// Runs `plan` in this session and returns its result stream (events as for
    /// [`SqliteBackend::execute`]). Waits for the previous plan of the session to finish.
    ///
    /// Transaction control follows PostgreSQL: `BEGIN` inside a transaction and
    /// `COMMIT`/`ROLLBACK` outside one succeed doing nothing; after an error inside a
    /// transaction the session is [`TxnState::Failed`], and until `ROLLBACK`,
    /// `ROLLBACK TO SAVEPOINT` or `COMMIT` (which rolls back, and succeeds) every plan fails
    /// unrun. Statement errors arrive on the stream: those of `execute` (except `25001` for
    /// a transaction left open), plus `25P02` in a failed transaction, `25P03` once (the
    /// first plan after the idle-in-transaction timeout rolled the transaction back; the
    /// session is idle again afterwards), and `25001` for an `ExecMode::Transaction` plan
    /// inside a transaction. A cancelled or timed-out statement (`57014`, or a dropped
    /// stream) inside a transaction fails it.
    ///
    /// # Errors
    /// [`Error::Closed`] when the backend is shutting down (a transaction was rolled back).
    pub async fn execute(&mut self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        self.settle().await;
        if let Some(end) = self.shared.gate().take() {
            self.lease = None;
            return ended(end);
        }
        let (tx, rx) = ResultStream::channel(CHANNEL_DEPTH);
        let (done, finished) = oneshot::channel();
        let mut job = Job {
            plan,
            deadline: opts.deadline(),
            tx,
            session: None,
        };
        if let Some(lease) = &self.lease {
            job.session = Some(self.link(None, done));
            let mut gate = self.shared.gate();
            if let Some(end) = gate.take() {
                drop(gate);
                self.lease = None;
                return ended(end);
            }
            match lease.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    // Cannot happen: a plan is sent only after the previous one is over.
                    return Err(Error::Db(DbError::internal(
                        "session plan sent while another was queued",
                    )));
                }
                Err(TrySendError::Disconnected(_)) => {
                    drop(gate);
                    self.lease = None;
                    return Err(Error::Closed);
                }
            }
            drop(gate);
            self.pending = Some(finished);
            return Ok(rx);
        }
        // Idle: the plan goes where `execute` would send it, with a fresh lease channel for
        // the writer to keep if the plan leaves a transaction open.
        let (lease_tx, lease_rx) = sync_channel(1);
        let lease = Lease {
            rx: lease_rx,
            idle_timeout: self
                .config
                .idle_in_transaction_timeout
                .filter(|d| !d.is_zero()),
        };
        job.session = Some(self.link(Some(lease), done));
        // Recorded before the send may be cancelled: the receivers just see a closed channel.
        self.lease = Some(lease_tx);
        self.pending = Some(finished);
        self.backend.submit_job(job).await?;
        Ok(rx)
    }

    /// The session's state as of the end of the last finished plan (or of the idle timeout
    /// that rolled its transaction back): what PostgreSQL's `ReadyForQuery` reports.
    #[must_use]
    pub fn txn_state(&self) -> TxnState {
        self.shared.state()
    }

    /// Ends the session: waits for its last plan, rolls back an open transaction and
    /// releases the writer before returning.
    pub async fn close(mut self) {
        self.settle().await;
        if self.lease.is_none() || self.txn_state() == TxnState::Idle {
            return;
        }
        let rollback = Plan {
            mode: ExecMode::Single,
            steps: vec![Statement::new("ROLLBACK", Dialect::Sqlite, Params::None)],
        };
        if let Ok(mut stream) = self.execute(rollback, ExecOptions::default()).await {
            while stream.recv().await.is_some() {}
        }
        self.settle().await;
    }

    fn link(&self, lease: Option<Lease>, done: oneshot::Sender<()>) -> SessionLink {
        SessionLink {
            shared: Arc::clone(&self.shared),
            lease,
            _done: done,
        }
    }

    /// Waits for the previous plan to be over; drops the lease channel when it left no
    /// transaction behind.
    async fn settle(&mut self) {
        if let Some(finished) = &mut self.pending {
            // An error only means the job was dropped unrun; either way it is over.
            let _ = finished.await;
            self.pending = None;
        }
        if self.shared.state() == TxnState::Idle {
            self.lease = None;
        }
    }
}

/// What the next plan gets after the writer ended the lease on its own.
fn ended(end: LeaseEnd) -> Result<ResultStream, Error> {
    match end {
        LeaseEnd::IdleTimeout => {
            let (tx, rx) = ResultStream::channel(1);
            // The channel is new and empty: the send cannot fail.
            let _ = tx.try_send(vec![Err(Error::Db(idle_timeout_error()))]);
            Ok(rx)
        }
        LeaseEnd::Shutdown => Err(Error::Closed),
    }
}
