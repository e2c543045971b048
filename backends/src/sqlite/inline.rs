//! Short reads on the caller's thread: a point select answered without a trip to a reader
//! thread and back.
//!
//! Owns a few read-only connections, each behind a mutex, that `execute` tries before it
//! queues a read-only plan. A plan runs here only when it is one read-only statement that
//! finishes within a small VM budget (`INLINE_TICKS` progress-handler calls, a few tens of
//! microseconds of SQLite work) and one row batch, and only when a connection is free at
//! once (`try_lock`, never waiting); anything else, and a lock SQLite cannot take at once
//! (busy timeout zero), goes to the SQLite threads as before. The thread hand-offs this
//! skips (a queue, a wake-up of the reader, the result channel, a wake-up of the async task)
//! cost more than such a read itself. Bounding the work keeps the async worker it runs on
//! responsive: it is the same order of time as encoding the reply. These connections hold no
//! transaction between plans, so every read sees the latest commit. Must not know frontends.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use rusqlite::Connection;

use super::exec::run_inline;
use super::job::Job;
use super::threads::open_reader;
use crate::error::Error;

/// Progress-handler calls (1000 VM operations each) a read may take before it gives up here.
const INLINE_TICKS: u32 = 20;

/// The caller-thread read connections.
#[derive(Debug)]
pub(super) struct InlineReaders {
    conns: Box<[Mutex<Connection>]>,
    /// Plans answered here so far.
    answered: AtomicU64,
}

impl InlineReaders {
    /// Opens `count` read-only connections to the (existing) database at `path`.
    pub(super) fn open(path: &Path, count: usize) -> Result<Self, Error> {
        let conns = (0..count)
            // Never wait for a lock here: a busy database sends the plan to the threads.
            .map(|_| open_reader(path, Duration::ZERO).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conns: conns.into_boxed_slice(),
            answered: AtomicU64::new(0),
        })
    }

    /// Runs `job` here when a connection is free and the job is a short read; returns it
    /// untouched otherwise.
    pub(super) fn try_run(&self, job: Job) -> Option<Job> {
        for slot in &self.conns {
            let mut conn = match slot.try_lock() {
                Ok(conn) => conn,
                // A panic mid-job leaves nothing open: SQLite resets statements on drop.
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            let left = run_inline(&mut conn, job, INLINE_TICKS);
            if left.is_none() {
                self.answered.fetch_add(1, Ordering::Relaxed);
            }
            return left;
        }
        Some(job)
    }

    /// Plans answered on the caller's thread so far.
    pub(super) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}
