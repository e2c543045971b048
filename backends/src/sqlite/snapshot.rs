//! Readers keep their read transaction between jobs while the writer has committed nothing.
//!
//! Owns `Epoch` (a counter the writer thread advances before anything it sends reaches a
//! consumer: every commit is followed by such a send) and `Snapshot` (a reader's held
//! `BEGIN`). Opening and closing a read transaction costs SQLite several system calls (file
//! locks, a WAL check); a run of reads with no commit in between shares one. Correctness: a
//! read is only served from a held snapshot taken after the epoch it saw, and the writer
//! advances the epoch before any client can learn of a commit, so a read never misses a
//! commit whose success was reported before the read was asked for. An idle reader releases
//! its snapshot, so checkpoints are never held back by a reader with nothing to do. Must not
//! know plans beyond their mode and classification.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use starbase_protocol::{ExecMode, Plan};

use super::exec::Role;

/// The writer's commit counter.
#[derive(Debug, Default)]
pub(super) struct Epoch(AtomicU64);

thread_local! {
    /// Set on the writer thread only.
    static WRITER_EPOCH: RefCell<Option<Arc<Epoch>>> = const { RefCell::new(None) };
}

impl Epoch {
    /// Marks the calling thread as the writer whose sends advance `epoch`.
    pub(super) fn attach_to_this_thread(epoch: &Arc<Epoch>) {
        WRITER_EPOCH.with(|e| *e.borrow_mut() = Some(Arc::clone(epoch)));
    }

    /// Advances the epoch when called on the writer thread; nothing elsewhere.
    pub(super) fn advance_on_this_thread() {
        WRITER_EPOCH.with(|e| {
            if let Some(epoch) = e.borrow().as_ref() {
                epoch.0.fetch_add(1, Ordering::AcqRel);
            }
        });
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A reader's held read transaction, if any, and the epoch it was opened at.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    held: Option<u64>,
}

impl Snapshot {
    /// Gets the connection ready for `plan` and says which role runs it: a plain read
    /// (`Snapshot`) inside a held, current read transaction; anything else (`Reader`) with
    /// no transaction open.
    pub(super) fn prepare(&mut self, conn: &Connection, plan: &Plan, epoch: &Epoch) -> Role {
        if conn.is_autocommit() {
            // SQLite ended it (an error can roll a transaction back).
            self.held = None;
        }
        let plain_read = matches!(
            plan.mode,
            ExecMode::Single | ExecMode::Batch | ExecMode::Describe
        ) && plan.is_read_only();
        if !plain_read {
            self.release(conn);
            return Role::Reader;
        }
        let now = epoch.current();
        if self.held == Some(now) {
            return Role::Snapshot;
        }
        self.release(conn);
        match conn.execute_batch("BEGIN") {
            Ok(()) => {
                // Read before BEGIN would be as safe; after it, a commit in between only costs
                // one needless refresh later.
                self.held = Some(now);
                Role::Snapshot
            }
            Err(e) => {
                tracing::warn!(error = %e, "a reader could not open a read transaction");
                Role::Reader
            }
        }
    }

    /// True when no snapshot is held or the held one is as of the current epoch.
    pub(super) fn is_current(&self, epoch: &Epoch) -> bool {
        self.held.is_none_or(|held| held == epoch.current())
    }

    /// True when a snapshot is held and the writer's epoch has moved past it.
    pub(super) fn is_stale(&self, epoch: &Epoch) -> bool {
        !self.is_current(epoch)
    }

    /// Ends the held read transaction.
    pub(super) fn release(&mut self, conn: &Connection) {
        if self.held.take().is_some()
            && !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("COMMIT")
        {
            tracing::warn!(error = %e, "a reader could not end its read transaction");
        }
    }
}
