//! What a plan runner needs from one checked-out connection of an external backend.
//!
//! Owns the `Conn`, `Canceller` and `Source` traits that PostgreSQL and MySQL implement, and
//! `Bound` (a statement rewritten for the server with its values). Must not know any driver:
//! each backend implements these traits in its own `exec` module.

use std::future::Future;

use starbase_protocol::{DbError, Value};

use super::lex::Server;
use super::out::{Failure, Out};
use crate::result::ExecSummary;

/// One statement ready for the server.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    /// The text with the server's placeholders.
    pub(crate) sql: String,
    /// PostgreSQL: the value of `$1`, `$2`, …; MySQL: the value of each `?` in order.
    pub(crate) values: Vec<Value>,
    /// Whether the statement changes rows (its `Done` reports `rows_written`).
    pub(crate) writes: bool,
}

/// Stops whatever statement a connection is running, from outside the plan.
pub(crate) trait Canceller: Send + Sync + 'static {
    /// Asks the server to cancel the running statement; best effort.
    fn cancel(&self) -> impl Future<Output = ()> + Send;
}

/// A connection checked out of a pool for one plan (or one session's transaction).
pub(crate) trait Conn: Send + 'static {
    /// Its canceller.
    type Canceller: Canceller;

    /// The lexical rules of the server.
    const SERVER: Server;

    /// A handle that cancels this connection's running statement.
    fn canceller(&self) -> Self::Canceller;

    /// Runs one statement, sending its `Columns` and `Rows` (not `Done`).
    fn run(
        &mut self,
        stmt: &Bound,
        out: &mut Out,
    ) -> impl Future<Output = Result<ExecSummary, Failure>> + Send;

    /// Prepares one statement without running it and sends its `Columns`.
    fn describe(
        &mut self,
        sql: &str,
        out: &mut Out,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Runs a transaction-control statement (`BEGIN`, `COMMIT`, `ROLLBACK`).
    fn control(&mut self, sql: &str) -> impl Future<Output = Result<(), DbError>> + Send;

    /// True once the connection is known to be unusable (closed, broken mid-statement).
    fn is_broken(&self) -> bool;

    /// Closes the connection instead of returning it to the pool.
    fn discard(self) -> impl Future<Output = ()> + Send;

    /// Drops the connection without returning it to the pool in its current state, outside
    /// any runtime (the server rolls back when the connection closes, or the pool resets it).
    fn detach(self);
}

/// A pool of connections.
pub(crate) trait Source: Clone + Send + Sync + 'static {
    /// Its connections.
    type Conn: Conn;

    /// A connection: waits at most the acquire timeout for a free slot (`53300`), then at
    /// most the connect timeout to open one when none is idle (`08006`).
    fn acquire(&self) -> impl Future<Output = Result<Self::Conn, DbError>> + Send;

    /// Owns the plan tasks and tells them to stop.
    fn tasks(&self) -> &super::Tasks;
}
