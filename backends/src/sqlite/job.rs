//! A unit of work for a SQLite thread, and the job's side of its result stream.
//!
//! Owns `Work`/`Job` (what travels over the thread channels), `Output` (sending events with
//! backpressure, noticing that the consumer is gone or the deadline has passed) and the
//! per-job progress handler that interrupts SQLite for either reason. Must not know how a
//! plan is executed or which thread runs it.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use starbase_protocol::{DbError, Plan, SqlState};
use tokio::sync::oneshot;

use super::session_lease::SessionLink;
use crate::error::Error;
use crate::result::Event;

/// How many SQLite VM operations run between two cancellation checks.
const PROGRESS_OPS: i32 = 1000;

/// Message of a statement stopped by its deadline (PostgreSQL's wording).
pub(super) const TIMEOUT_MESSAGE: &str = "canceling statement due to statement timeout";
/// Message of a statement stopped because its consumer went away (PostgreSQL's wording).
pub(super) const USER_CANCEL_MESSAGE: &str = "canceling statement due to user request";

pub(super) use crate::result::EventSender;

/// Buffered events are sent by the progress handler once they have waited this long, so a
/// statement that runs long after producing its columns does not hide them.
const FLUSH_AFTER: Duration = Duration::from_millis(5);

/// What a SQLite thread can be asked to do.
#[derive(Debug)]
pub(super) enum Work {
    /// Run a plan and stream its results.
    Plan(Job),
    /// Hold the writer in one transaction for a lease.
    Lease(super::lease::LeaseRequest),
    /// Report `page_count * page_size`.
    Size(oneshot::Sender<Result<u64, Error>>),
}

/// A plan with its deadline and the stream to answer on.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) plan: Plan,
    pub(super) deadline: Option<Instant>,
    pub(super) tx: EventSender,
    /// Set when the plan comes from a `SqliteSession`: the writer runs it with session rules
    /// (a transaction may stay open) and may keep serving that session afterwards.
    pub(super) session: Option<SessionLink>,
}

impl Job {
    /// Answers a job that will not run (the backend is shutting down).
    pub(super) fn reject(self, error: Error) {
        // The consumer may be gone already; nobody else to tell.
        let _ = self.tx.try_send(vec![Err(error)]);
    }
}

/// Why the progress handler stopped SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Cancel {
    None = 0,
    Timeout = 1,
    Consumer = 2,
}

/// State shared between a job's `Output` and its progress handler.
#[derive(Debug)]
struct Signal {
    deadline: Option<Instant>,
    tx: EventSender,
    cancel: AtomicU8,
    /// Off while the executor runs `COMMIT`/`ROLLBACK`, which must not be interrupted.
    armed: AtomicBool,
    /// Events not sent yet, and since when the oldest has waited. Only the job's thread
    /// touches it (the executor and the progress handler), so the lock is never contended.
    pending: Mutex<Pending>,
    /// Set for a job run on the caller's thread (see `inline`): events are kept, not sent.
    collect: Option<Collect>,
}

/// The limits of a job run on the caller's thread: past them it gives up (`overflowed`) and
/// goes to the SQLite threads instead.
#[derive(Debug)]
struct Collect {
    /// Progress-handler calls (each `PROGRESS_OPS` VM operations) allowed.
    max_ticks: u32,
    ticks: AtomicU32,
    overflowed: AtomicBool,
}

impl Collect {
    /// One more progress-handler call; true once past the budget (interrupt SQLite).
    fn tick(&self) -> bool {
        if self.ticks.fetch_add(1, Ordering::Relaxed) >= self.max_ticks {
            self.overflowed.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }
}

#[derive(Debug, Default)]
struct Pending {
    events: Vec<Result<Event, Error>>,
    since: Option<Instant>,
}

impl Pending {
    fn push(&mut self, event: Result<Event, Error>) {
        self.since.get_or_insert_with(Instant::now);
        self.events.push(event);
    }

    fn take(&mut self) -> Vec<Result<Event, Error>> {
        self.since = None;
        std::mem::take(&mut self.events)
    }
}

impl Signal {
    /// Checks the deadline and the consumer; records and returns why to stop, if so.
    fn check(&self) -> Cancel {
        let cancel = if self.tx.is_closed() {
            Cancel::Consumer
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Cancel::Timeout
        } else {
            return Cancel::None;
        };
        self.cancel.store(cancel as u8, Ordering::Relaxed);
        cancel
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From the progress handler: sends events that have waited too long, without blocking
    /// (a full channel just leaves them for the next try).
    fn flush_stale(&self) {
        let mut pending = self.pending();
        if pending.since.is_some_and(|t| t.elapsed() >= FLUSH_AFTER) {
            let events = pending.take();
            if let Err(tokio::sync::mpsc::error::TrySendError::Full(events)) =
                self.tx.try_send(events)
            {
                for event in events {
                    pending.push(event);
                }
            }
        }
    }
}

/// Why a job stopped early.
#[derive(Debug)]
pub(super) enum Failure {
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

/// The job's side of the result stream, for the executor.
#[derive(Debug)]
pub(super) struct Output {
    signal: Arc<Signal>,
}

impl Output {
    /// Installs the job's progress handler on `conn`; call `finish` when the job is done.
    pub(super) fn start(conn: &mut Connection, job: &Job) -> Self {
        Self::install(conn, job, None)
    }

    /// Like `start`, for a job run on the caller's thread: events are kept for
    /// `finish_collected` instead of sent, and the job gives up (`overflowed`) after
    /// `max_ticks` progress-handler calls or at its first full row batch.
    pub(super) fn collecting(conn: &mut Connection, job: &Job, max_ticks: u32) -> Self {
        let collect = Collect {
            max_ticks,
            ticks: AtomicU32::new(0),
            overflowed: AtomicBool::new(false),
        };
        Self::install(conn, job, Some(collect))
    }

    fn install(conn: &mut Connection, job: &Job, collect: Option<Collect>) -> Self {
        let signal = Arc::new(Signal {
            deadline: job.deadline,
            tx: job.tx.clone(),
            cancel: AtomicU8::new(Cancel::None as u8),
            armed: AtomicBool::new(true),
            pending: Mutex::new(Pending::default()),
            collect,
        });
        let watch = Arc::clone(&signal);
        let handler = move || {
            if let Some(collect) = &watch.collect {
                return watch.armed.load(Ordering::Relaxed) && collect.tick();
            }
            watch.flush_stale();
            watch.armed.load(Ordering::Relaxed) && watch.check() != Cancel::None
        };
        if let Err(e) = conn.progress_handler(PROGRESS_OPS, Some(handler)) {
            tracing::warn!(error = %e, "cannot install the SQLite progress handler");
        }
        Output { signal }
    }

    /// Removes the progress handler (and with it the handler's clone of the sender).
    pub(super) fn finish(self, conn: &mut Connection) {
        if let Err(e) = conn.progress_handler(0, None::<fn() -> bool>) {
            tracing::warn!(error = %e, "cannot remove the SQLite progress handler");
        }
    }

    /// True when a collecting job went past its limits (its events are incomplete).
    pub(super) fn overflowed(&self) -> bool {
        self.signal
            .collect
            .as_ref()
            .is_some_and(|c| c.overflowed.load(Ordering::Relaxed))
    }

    /// Removes the progress handler and returns the events a collecting job kept.
    pub(super) fn finish_collected(self, conn: &mut Connection) -> Vec<Result<Event, Error>> {
        let events = self.signal.pending().take();
        self.finish(conn);
        events
    }

    /// Queues one event. A full row batch and the end of the stream are sent at once
    /// (waiting while the consumer is behind); other events travel with them.
    ///
    /// # Errors
    /// `Failure::Gone` when the consumer dropped the stream.
    pub(super) fn send(&self, event: Event) -> Result<(), Failure> {
        let flush = matches!(event, Event::Finished);
        self.signal.pending().push(Ok(event));
        if flush { self.flush() } else { Ok(()) }
    }

    /// Queues a full batch of rows and sends everything queued.
    ///
    /// # Errors
    /// `Failure::Gone` when the consumer dropped the stream.
    pub(super) fn send_batch(&self, rows: Vec<starbase_protocol::Row>) -> Result<(), Failure> {
        if let Some(collect) = &self.signal.collect {
            // More than a batch is not a short read: give up, the threads stream it.
            collect.overflowed.store(true, Ordering::Relaxed);
            return Err(Failure::Gone);
        }
        self.signal.pending().push(Ok(Event::Rows(rows)));
        self.flush()
    }

    /// Sends everything queued, waiting while the consumer is behind (a collecting job keeps
    /// it).
    fn flush(&self) -> Result<(), Failure> {
        if self.signal.collect.is_some() {
            return Ok(());
        }
        let events = self.signal.pending().take();
        if events.is_empty() {
            return Ok(());
        }
        // On the writer: whatever the consumer learns from here on (a commit, above all) must
        // be visible to the next read, so readers drop their snapshot.
        super::snapshot::Epoch::advance_on_this_thread();
        self.signal
            .tx
            .blocking_send(events)
            .map_err(|_| Failure::Gone)
    }

    /// Sends what is queued and the error that ends the stream (ignored when the consumer is
    /// gone).
    pub(super) fn fail(&self, error: DbError) {
        self.signal.pending().push(Err(Error::Db(error)));
        let _ = self.flush();
    }

    /// Stops between statements when the deadline passed or the consumer left.
    ///
    /// # Errors
    /// `57014` for the deadline, `Failure::Gone` for the consumer.
    pub(super) fn check(&self) -> Result<(), Failure> {
        match self.signal.check() {
            Cancel::None => Ok(()),
            Cancel::Consumer => Err(Failure::Gone),
            Cancel::Timeout => Err(Failure::Db(DbError::new(
                SqlState::QUERY_CANCELED,
                TIMEOUT_MESSAGE,
            ))),
        }
    }

    /// Turns the progress handler on (statements) or off (commit and rollback).
    pub(super) fn arm(&self, armed: bool) {
        self.signal.armed.store(armed, Ordering::Relaxed);
    }

    /// Gives an interrupted statement's error the reason the progress handler recorded.
    pub(super) fn explain(&self, mut error: DbError) -> DbError {
        if error.code == SqlState::QUERY_CANCELED {
            match self.signal.cancel.load(Ordering::Relaxed) {
                c if c == Cancel::Timeout as u8 => error.message = TIMEOUT_MESSAGE.to_owned(),
                c if c == Cancel::Consumer as u8 => {
                    error.message = USER_CANCEL_MESSAGE.to_owned();
                }
                _ => {}
            }
        }
        error
    }
}
