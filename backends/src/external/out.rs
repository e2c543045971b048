//! The producing side of a result stream for the async external backends.
//!
//! Owns `Out`: queueing events, cutting rows into batches of `BATCH_ROWS` rows or about
//! `BATCH_BYTES`, sending with backpressure (`send().await` on the bounded channel), and
//! noticing why a plan must stop (consumer gone, statement timeout, shutdown). Must not know
//! any driver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use starbase_protocol::{DbError, Row, SqlState, Value};

use crate::error::Error;
use crate::result::{BATCH_BYTES, BATCH_ROWS, Event, EventSender};

/// Message of a statement stopped by its deadline (PostgreSQL's wording).
pub(crate) const TIMEOUT_MESSAGE: &str = "canceling statement due to statement timeout";
/// Message of a statement stopped by a shutdown (PostgreSQL's wording).
pub(crate) const SHUTDOWN_MESSAGE: &str = "terminating connection due to administrator command";

/// Why a plan stopped early.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A statement failed; the error goes to the consumer.
    Db(DbError),
    /// The consumer dropped the stream; nothing to report.
    Gone,
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::Db(e)
    }
}

/// Why the plan must stop, set from outside the plan (the timer or the shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stop {
    /// Keep going.
    None = 0,
    /// The statement timeout passed.
    Timeout = 1,
    /// The backend is shutting down.
    Shutdown = 2,
}

/// A shared stop flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct StopFlag(Arc<AtomicU8>);

impl StopFlag {
    pub(crate) fn set(&self, stop: Stop) {
        self.0.store(stop as u8, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Stop {
        match self.0.load(Ordering::Acquire) {
            1 => Stop::Timeout,
            2 => Stop::Shutdown,
            _ => Stop::None,
        }
    }

    /// The error for a stopped plan, if it was stopped.
    pub(crate) fn error(&self) -> Option<DbError> {
        match self.get() {
            Stop::None => None,
            Stop::Timeout => Some(DbError::new(SqlState::QUERY_CANCELED, TIMEOUT_MESSAGE)),
            Stop::Shutdown => Some(DbError::new(SqlState::ADMIN_SHUTDOWN, SHUTDOWN_MESSAGE)),
        }
    }

    /// A server's "query canceled" error gets the reason we cancelled it for.
    pub(crate) fn explain(&self, error: DbError) -> DbError {
        match self.error() {
            Some(ours) if error.code == SqlState::QUERY_CANCELED => ours,
            _ => error,
        }
    }
}

/// The plan's side of its result stream.
#[derive(Debug)]
pub(crate) struct Out {
    tx: EventSender,
    pending: Vec<Result<Event, Error>>,
    rows: Vec<Row>,
    bytes: usize,
    pub(crate) stop: StopFlag,
}

impl Out {
    pub(crate) fn new(tx: EventSender, stop: StopFlag) -> Self {
        Self {
            tx,
            pending: Vec::new(),
            rows: Vec::new(),
            bytes: 0,
            stop,
        }
    }

    /// A handle that resolves when the consumer drops the stream.
    pub(crate) fn watcher(&self) -> EventSender {
        self.tx.clone()
    }

    /// Stops when the consumer left or the plan was stopped from outside.
    pub(crate) fn check(&self) -> Result<(), Failure> {
        if self.tx.is_closed() {
            return Err(Failure::Gone);
        }
        match self.stop.error() {
            Some(e) => Err(Failure::Db(e)),
            None => Ok(()),
        }
    }

    /// Queues an event; `Done` and `Finished` send everything queued.
    pub(crate) async fn send(&mut self, event: Event) -> Result<(), Failure> {
        let flush = matches!(event, Event::Done(_) | Event::Finished);
        self.end_rows();
        self.pending.push(Ok(event));
        if flush { self.flush().await } else { Ok(()) }
    }

    /// Adds a row to the current batch, sending the batch once it is full.
    pub(crate) async fn row(&mut self, row: Row) -> Result<(), Failure> {
        self.bytes += row_size(&row);
        self.rows.push(row);
        if self.rows.len() >= BATCH_ROWS || self.bytes >= BATCH_BYTES {
            self.end_rows();
            self.check()?;
            self.flush().await?;
        }
        Ok(())
    }

    /// Queues the rows collected so far as one batch.
    fn end_rows(&mut self) {
        if !self.rows.is_empty() {
            self.bytes = 0;
            self.pending
                .push(Ok(Event::Rows(std::mem::take(&mut self.rows))));
        }
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.pending);
        self.tx.send(events).await.map_err(|_| Failure::Gone)
    }

    /// Sends what is queued and the error that ends the stream (ignored when the consumer is
    /// gone).
    pub(crate) async fn fail(&mut self, error: DbError) {
        self.end_rows();
        self.pending.push(Err(Error::Db(error)));
        let _ = self.flush().await;
    }

    /// Ends the stream successfully.
    pub(crate) async fn finish(&mut self) {
        // A consumer that left just now misses nothing it could still act on.
        let _ = self.send(Event::Finished).await;
    }
}

/// Approximate in-memory size of a row, for cutting batches near `BATCH_BYTES`.
pub(crate) fn row_size(row: &Row) -> usize {
    row.iter()
        .map(|v| match v {
            Value::Numeric(s) | Value::Text(s) => s.len() + 8,
            Value::Bytes(b) => b.len() + 8,
            Value::Json(_) => 64,
            _ => 8,
        })
        .sum()
}
