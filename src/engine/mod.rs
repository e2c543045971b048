//! The engine: runs a plan for a principal on the backend it targets.
//!
//! Owns the backends of this gateway and the per-request limits applied when running a plan.
//! Frontends hand it a `Plan` and get a `ResultStream`; it must not know any frontend type.

pub mod planner;

use std::time::Duration;

use starbase_backends::ResultStream;
use starbase_backends::sqlite::{ExecOptions, SqliteBackend, WriterLease};
use starbase_protocol::Plan;

use crate::auth::Principal;
use crate::error::Error;

/// A writer lease that hears nothing for this long is rolled back (a stalled import must not
/// hold the writer).
const LEASE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs plans on the gateway's backends.
#[derive(Debug, Clone)]
pub struct Engine {
    sqlite: SqliteBackend,
    statement_timeout: Option<Duration>,
}

impl Engine {
    /// An engine over the embedded SQLite database.
    #[must_use]
    pub fn new(sqlite: SqliteBackend, statement_timeout: Option<Duration>) -> Self {
        Self {
            sqlite,
            statement_timeout,
        }
    }

    /// Runs `plan` for `principal` and returns its result stream.
    ///
    /// # Errors
    /// `57P01` when the backend is shutting down; statement errors arrive on the stream.
    pub async fn execute(&self, principal: &Principal, plan: Plan) -> Result<ResultStream, Error> {
        tracing::debug!(
            role = principal.role.as_str(),
            steps = plan.steps.len(),
            "execute"
        );
        let opts = ExecOptions {
            statement_timeout: self.statement_timeout,
        };
        Ok(self.sqlite.execute(plan, opts).await?)
    }

    /// Runs `plan` without the statement timeout, for exports: they stream for as long as the
    /// client keeps reading, and a client that goes away cancels them.
    ///
    /// # Errors
    /// As [`Engine::execute`].
    pub async fn execute_export(
        &self,
        principal: &Principal,
        plan: Plan,
    ) -> Result<ResultStream, Error> {
        tracing::debug!(
            role = principal.role.as_str(),
            steps = plan.steps.len(),
            "export"
        );
        let opts = ExecOptions {
            statement_timeout: None,
        };
        Ok(self.sqlite.execute(plan, opts).await?)
    }

    /// Takes the writer for one transaction spanning several plans (imports).
    ///
    /// # Errors
    /// `57P01` when shutting down, `55P03` when the write lock cannot be taken.
    pub async fn lease_writer(&self) -> Result<WriterLease, Error> {
        Ok(self.sqlite.lease_writer(LEASE_IDLE_TIMEOUT).await?)
    }

    /// The statement options for plans run inside a lease.
    #[must_use]
    pub fn exec_options(&self) -> ExecOptions {
        ExecOptions {
            statement_timeout: self.statement_timeout,
        }
    }

    /// The embedded SQLite backend.
    #[must_use]
    pub fn sqlite(&self) -> &SqliteBackend {
        &self.sqlite
    }

    /// Stops the backends, letting running statements finish.
    pub async fn shutdown(&self) {
        self.sqlite.shutdown().await;
    }
}
