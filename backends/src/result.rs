//! The result stream every backend produces.
//!
//! For each step of a plan, `Step(index)`; then for each statement of that step's text, in
//! order: `Columns`, zero or more `Rows` batches, `Done`.
//! After the last statement (and its commit, for a transaction) comes `Finished`; a stream
//! that ends without `Finished` or an `Err` item means the worker died. Errors end the stream.
//! The channel is bounded: a slow consumer slows the producer, and dropping the stream
//! cancels the running statement (and rolls back an open transaction).

use std::collections::VecDeque;
use std::sync::Arc;

use starbase_protocol::{Column, Row};

use crate::error::Error;

/// One item of a result stream.
#[derive(Debug, Clone)]
pub enum Event {
    /// The plan step with this index (0-based) starts; its text may hold several statements.
    Step(usize),
    /// The columns of the statement that starts now (empty for statements without rows).
    Columns(Arc<[Column]>),
    /// A batch of rows of the current statement.
    Rows(Vec<Row>),
    /// The current statement finished.
    Done(ExecSummary),
    /// Every statement finished and, where the plan asked for it, committed.
    Finished,
}

/// What one statement did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecSummary {
    /// Rows the statement returned.
    pub rows_read: u64,
    /// Rows the statement inserted, updated or deleted.
    pub rows_written: u64,
    /// The rowid of the last inserted row, when the statement inserted one.
    pub last_insert_id: Option<i64>,
}

/// Where a session stands with respect to a transaction block, as PostgreSQL reports it in
/// `ReadyForQuery` (`I`, `T`, `E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TxnState {
    /// No transaction is open: each plan commits on its own.
    #[default]
    Idle,
    /// A transaction is open and usable.
    InTransaction,
    /// A statement failed inside the transaction: everything but `ROLLBACK`, `ROLLBACK TO
    /// SAVEPOINT` and `COMMIT` (which then rolls back) is refused with `25P02`.
    Failed,
}

/// Several events sent at once: a small result (columns, rows, summary, end) crosses the
/// channel in one message instead of one per event.
pub type Chunk = Vec<Result<Event, Error>>;

/// The producing side of a result stream.
pub type EventSender = tokio::sync::mpsc::Sender<Chunk>;

/// A bounded stream of result events; see the module docs for the order.
#[derive(Debug)]
pub struct ResultStream {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    ready: VecDeque<Result<Event, Error>>,
}

impl ResultStream {
    /// A stream and its sender; the channel holds at most `depth` chunks.
    #[must_use]
    pub fn channel(depth: usize) -> (EventSender, ResultStream) {
        let (tx, rx) = tokio::sync::mpsc::channel(depth);
        (
            tx,
            ResultStream {
                rx,
                ready: VecDeque::new(),
            },
        )
    }

    /// The next event; `None` once the producer is done (after `Finished` or an error).
    pub async fn recv(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            self.ready.extend(self.rx.recv().await?);
        }
    }
}

/// Target number of rows per `Rows` batch.
pub const BATCH_ROWS: usize = 256;
/// Target encoded size of a `Rows` batch, in bytes (approximate).
pub const BATCH_BYTES: usize = 64 * 1024;
/// Depth of the result channel, in chunks.
pub const CHANNEL_DEPTH: usize = 8;
