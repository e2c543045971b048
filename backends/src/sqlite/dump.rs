//! Dump snapshots: one read transaction on a connection of its own, held for as long as a
//! dump needs it, serving that dump's page queries.
//!
//! Owns `DumpSnapshot`: a dedicated thread (started from the caller's thread, so it shares
//! its priority) with a read-only connection (small page cache, no catalog views) that opens `BEGIN`,
//! pins the snapshot with a first read and then runs every plan it is sent inside that one
//! read transaction (WAL: the writer keeps committing, the shared readers keep serving, and
//! none of them waits for the dump). Dropping the handle ends the transaction and the thread.
//! Must not know dump formats or storage.

use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use rusqlite::Connection;
use starbase_protocol::Plan;

use super::error::classify;
use super::exec::{Role, run_job};
use super::job::Job;
use super::{ExecOptions, SqliteBackend, threads};
use crate::error::Error;
use crate::result::{CHANNEL_DEPTH, ResultStream};

/// Plans waiting for the snapshot thread (a dump sends one page at a time).
const SNAPSHOT_QUEUE: usize = 4;

/// One read transaction held for a dump. Cheap to move; not shared.
#[derive(Debug)]
pub struct DumpSnapshot {
    jobs: Option<async_channel::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    closing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SqliteBackend {
    /// Opens a read transaction on a new read-only connection, on a thread of its own, and
    /// returns once the snapshot is taken: every plan run on it sees the database as it was
    /// at this moment, whatever is committed meanwhile.
    ///
    /// # Errors
    /// [`Error::Closed`] when shutting down; `58030` when the connection or thread cannot be
    /// opened; SQLite's errors as mapped by [`super::error::classify`].
    pub async fn dump_snapshot(&self) -> Result<DumpSnapshot, Error> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let path = self.inner.path.clone();
        let (jobs, rx) = async_channel::bounded::<Job>(SNAPSHOT_QUEUE);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let closing = std::sync::Arc::clone(&self.inner.closing);
        let thread_closing = std::sync::Arc::clone(&closing);
        let thread = threads::spawn("starbase-sqlite-dump", move || {
            let conn = match threads::open_dump_reader(&path, super::DEFAULT_BUSY_TIMEOUT)
                .and_then(|conn| begin(&conn).map(|()| conn))
            {
                Ok(conn) => {
                    drop(ready_tx.send(Ok(())));
                    conn
                }
                Err(e) => {
                    drop(ready_tx.send(Err(e)));
                    return;
                }
            };
            serve(conn, &rx, &thread_closing);
        })?;
        ready_rx.await.map_err(|_| Error::Closed)??;
        Ok(DumpSnapshot {
            jobs: Some(jobs),
            thread: Some(thread),
            closing,
        })
    }
}

/// `BEGIN` and a first read: a deferred transaction takes its snapshot at its first read.
fn begin(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch("BEGIN")
        .and_then(|()| conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
        .map_err(|e| Error::Db(classify(&e)))
}

fn serve(
    mut conn: Connection,
    rx: &async_channel::Receiver<Job>,
    closing: &std::sync::atomic::AtomicBool,
) {
    while let Ok(job) = rx.recv_blocking() {
        if closing.load(Ordering::Acquire) {
            job.reject(Error::Closed);
            continue;
        }
        if conn.is_autocommit() {
            // An error rolled the transaction back: the snapshot is gone, and a new one
            // would not be the same.
            job.reject(Error::Db(starbase_protocol::DbError::new(
                starbase_protocol::SqlState::INTERNAL_ERROR,
                "the dump's snapshot was lost",
            )));
            continue;
        }
        if let Some(job) = run_job(&mut conn, Role::Snapshot, job) {
            job.reject(Error::Db(starbase_protocol::DbError::new(
                starbase_protocol::SqlState::READ_ONLY_SQL_TRANSACTION,
                "a dump snapshot runs read-only statements only",
            )));
        }
    }
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("COMMIT")
    {
        tracing::warn!(error = %e, "ending a dump snapshot failed");
    }
}

impl DumpSnapshot {
    /// Runs a read-only `plan` inside the snapshot (modes `Single` or `Batch`).
    ///
    /// # Errors
    /// [`Error::Closed`] when the snapshot or the backend has closed; statement errors
    /// arrive on the stream (`25006` for a statement that would write).
    pub async fn execute(&self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        let jobs = self.jobs.as_ref().ok_or(Error::Closed)?;
        if self.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let (tx, rx) = ResultStream::channel(CHANNEL_DEPTH);
        let job = Job {
            plan,
            deadline: opts.deadline(),
            tx,
            session: None,
        };
        jobs.send(job).await.map_err(|_| Error::Closed)?;
        Ok(rx)
    }

    /// Ends the read transaction and waits for the thread to exit.
    pub async fn close(mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            // Joining blocks: do it on the blocking pool.
            let joined = tokio::task::spawn_blocking(move || thread.join().is_ok()).await;
            if !matches!(joined, Ok(true)) {
                tracing::error!("a SQLite dump thread panicked");
            }
        }
    }
}

impl Drop for DumpSnapshot {
    fn drop(&mut self) {
        // Closing the channel ends the thread; it commits the read transaction on its way out.
        self.jobs = None;
    }
}
