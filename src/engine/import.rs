//! One transaction spanning several plans, for imports: SQLite's writer lease on the embedded
//! database, a session pinned to one pooled connection between `BEGIN` and `COMMIT` on an
//! external source.
//!
//! Owns hiding which of the two it is. Dropping an `ImportTxn` without `commit` rolls back
//! (the lease's and the session's own rule). Must not know any frontend.

use starbase_backends::sqlite::{ExecOptions, WriterLease};
use starbase_backends::{AnySession, Event, ResultStream};
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Statement};

use crate::error::Error;

/// An open import transaction.
#[derive(Debug)]
pub enum ImportTxn {
    /// The embedded database's writer.
    Internal(WriterLease, ExecOptions),
    /// A session inside `BEGIN` on an external source.
    External(AnySession, ExecOptions, Dialect),
}

impl ImportTxn {
    /// Opens a transaction on an external session.
    pub(super) async fn begin_external(
        mut session: AnySession,
        opts: ExecOptions,
        dialect: Dialect,
    ) -> Result<Self, Error> {
        let stream = session
            .execute(control("BEGIN", dialect), opts.clone())
            .await?;
        drain(stream).await?;
        Ok(ImportTxn::External(session, opts, dialect))
    }

    /// Runs `plan` inside the transaction.
    ///
    /// # Errors
    /// `57P01` when the backend is shutting down; statement errors arrive on the stream.
    pub async fn execute(&mut self, plan: Plan) -> Result<ResultStream, Error> {
        match self {
            ImportTxn::Internal(lease, opts) => Ok(lease.execute(plan, opts)?),
            ImportTxn::External(session, opts, _) => {
                Ok(session.execute(plan, opts.clone()).await?)
            }
        }
    }

    /// Commits.
    ///
    /// # Errors
    /// The backend's commit error (a deferred constraint, a broken connection: `08006`).
    pub async fn commit(self) -> Result<(), Error> {
        match self {
            ImportTxn::Internal(lease, _) => Ok(lease.commit().await?),
            ImportTxn::External(mut session, opts, dialect) => {
                let stream = session.execute(control("COMMIT", dialect), opts).await?;
                drain(stream).await?;
                session.close().await;
                Ok(())
            }
        }
    }
}

fn control(sql: &str, dialect: Dialect) -> Plan {
    Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(sql, dialect, Params::None)],
    }
}

async fn drain(mut stream: ResultStream) -> Result<(), Error> {
    while let Some(event) = stream.recv().await {
        if let Event::Finished = event? {
            return Ok(());
        }
    }
    Err(DbError::internal("the database worker stopped before the statement finished").into())
}
