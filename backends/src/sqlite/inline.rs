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
//! responsive: it is the same order of time as encoding the reply. Like the reader threads
//! (`snapshot`), each connection keeps its read transaction between plans while the writer
//! has committed nothing, which saves the file-lock system calls of opening and closing one
//! per plan. A snapshot the writer's epoch has passed is refreshed before the next read; the
//! writer thread ends every snapshot it finds free before each of its jobs (so its
//! checkpoints and writes meet no held reader) and the stale ones after; and a janitor
//! thread ends those unused for `IDLE_RELEASE`, so an idle connection never holds back a
//! checkpoint. Must not know frontends.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rusqlite::Connection;

use super::exec::run_inline;
use super::job::Job;
use super::snapshot::{Epoch, Snapshot};
use super::threads::open_reader;
use crate::error::Error;

/// Progress-handler calls (1000 VM operations each) a read may take before it gives up here.
const INLINE_TICKS: u32 = 20;
/// How long a held snapshot may go unused (at most twice this) before the janitor ends it.
const IDLE_RELEASE: Duration = Duration::from_millis(50);

/// One caller-thread connection and its held read transaction.
#[derive(Debug)]
struct Slot {
    conn: Connection,
    snapshot: Snapshot,
    /// Used since the janitor last looked.
    used: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Closing a connection inside a transaction would run its rollback hook while the
        // connection is being torn down: end the read transaction first.
        self.snapshot.release(&self.conn);
    }
}

/// The caller-thread read connections.
#[derive(Debug)]
pub(super) struct InlineReaders {
    slots: Box<[Mutex<Slot>]>,
    epoch: Arc<Epoch>,
    /// Plans answered here so far.
    answered: AtomicU64,
}

impl InlineReaders {
    /// Opens `count` read-only connections to the (existing) database at `path`, whose
    /// snapshots follow the writer's `epoch`.
    pub(super) fn open(path: &Path, count: usize, epoch: Arc<Epoch>) -> Result<Self, Error> {
        let slots = (0..count)
            // Never wait for a lock here: a busy database sends the plan to the threads.
            .map(|_| {
                open_reader(path, Duration::ZERO).map(|conn| {
                    Mutex::new(Slot {
                        conn,
                        snapshot: Snapshot::default(),
                        used: false,
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            slots: slots.into_boxed_slice(),
            epoch,
            answered: AtomicU64::new(0),
        })
    }

    /// Runs `job` here when a connection is free and the job is a short read; returns it
    /// untouched otherwise.
    pub(super) fn try_run(&self, job: Job) -> Option<Job> {
        for slot in &self.slots {
            let Some(mut guard) = lock_now(slot) else {
                continue;
            };
            let Slot {
                conn,
                snapshot,
                used,
            } = &mut *guard;
            *used = true;
            let role = snapshot.prepare(conn, &job.plan, &self.epoch);
            let left = run_inline(conn, role, job, INLINE_TICKS);
            if left.is_some() || !snapshot.is_current(&self.epoch) {
                // Given up (busy, too long) or overtaken by a commit: start afresh next time.
                snapshot.release(conn);
            }
            drop(guard);
            if left.is_none() {
                self.answered.fetch_add(1, Ordering::Relaxed);
            }
            // A commit that came while this slot was locked found it busy: release here.
            self.release_slot_if_stale(slot);
            return left;
        }
        Some(job)
    }

    /// Ends the snapshots the writer's epoch has passed, on connections free at once. The
    /// writer thread calls this after each job, so a connection that has gone idle does
    /// not keep an old snapshot past the next commit.
    pub(super) fn release_stale(&self) {
        for slot in &self.slots {
            self.release_slot_if_stale(slot);
        }
    }

    /// Ends every snapshot on connections free at once (the writer, before each job).
    pub(super) fn release_all(&self) {
        for slot in &self.slots {
            if let Some(mut guard) = lock_now(slot) {
                let Slot { conn, snapshot, .. } = &mut *guard;
                snapshot.release(conn);
            }
        }
    }

    /// Ends the snapshots not used since the last call (the janitor).
    fn release_idle(&self) {
        for slot in &self.slots {
            if let Some(mut guard) = lock_now(slot) {
                let Slot {
                    conn,
                    snapshot,
                    used,
                } = &mut *guard;
                if !std::mem::take(used) {
                    snapshot.release(conn);
                }
            }
        }
    }

    fn release_slot_if_stale(&self, slot: &Mutex<Slot>) {
        if let Some(mut guard) = lock_now(slot)
            && guard.snapshot.is_stale(&self.epoch)
        {
            let Slot { conn, snapshot, .. } = &mut *guard;
            snapshot.release(conn);
        }
    }

    /// Plans answered on the caller's thread so far.
    pub(super) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

/// The janitor thread's loop: every `IDLE_RELEASE`, ends the snapshots nobody used since
/// the last round; returns when `stop`'s sender is dropped.
pub(super) fn janitor(inline: &InlineReaders, stop: &Receiver<()>) {
    loop {
        match stop.recv_timeout(IDLE_RELEASE) {
            Err(RecvTimeoutError::Timeout) => inline.release_idle(),
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The slot's lock if it is free now.
fn lock_now(slot: &Mutex<Slot>) -> Option<MutexGuard<'_, Slot>> {
    match slot.try_lock() {
        Ok(guard) => Some(guard),
        // A panic mid-job leaves nothing open: SQLite resets statements on drop.
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}
