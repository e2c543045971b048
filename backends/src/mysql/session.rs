//! MySQL/MariaDB sessions: a sequence of plans whose transaction may span several of them.
//!
//! Owns `MySqlSession`, the MySQL face of the shared `SessionCore`. Must not know any
//! frontend.

use starbase_protocol::Plan;

use super::pool::MySqlSource;
use crate::error::Error;
use crate::external::session::SessionCore;
use crate::external::{ExecOptions, SessionConfig};
use crate::result::{ResultStream, TxnState};

/// A session, mirroring `SqliteSession`: while no transaction is open, each plan takes a
/// pooled connection and returns it afterwards; a plan that leaves a transaction open pins
/// its connection to the session until `COMMIT`/`ROLLBACK`. Transaction control follows
/// PostgreSQL (`BEGIN` inside a transaction and `COMMIT`/`ROLLBACK` outside one do
/// nothing; after an error the session is failed and refuses everything but
/// `ROLLBACK`/`COMMIT` with `25P02`). Plans run one at a time: `execute` waits for the
/// previous plan. A transaction left idle longer than the configured timeout is rolled
/// back and its connection freed; the next plan gets `25P03`. Dropping the session rolls
/// back its transaction. MySQL itself commits
/// before any DDL statement; that cannot be undone here.
#[derive(Debug)]
pub struct MySqlSession {
    core: SessionCore<MySqlSource>,
}

impl MySqlSession {
    pub(super) fn new(source: MySqlSource, config: &SessionConfig) -> Self {
        Self {
            core: SessionCore::new(source, config),
        }
    }

    /// Runs `plan` in this session (events and errors as for `MySqlBackend::execute`, plus
    /// `25P02` in a failed transaction and `25001` for a transaction plan inside one).
    ///
    /// # Errors
    /// [`Error::Closed`] when the backend is shutting down.
    pub async fn execute(&mut self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        self.core.execute(plan, opts.statement_timeout).await
    }

    /// The state as of the end of the last finished plan (`ReadyForQuery`'s I/T/E).
    #[must_use]
    pub fn txn_state(&self) -> TxnState {
        self.core.txn_state()
    }

    /// Waits for the last plan, rolls back an open transaction and releases the connection.
    pub async fn close(self) {
        self.core.close().await;
    }
}
