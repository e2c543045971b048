//! The SQLite threads: opening their connections and their receive loops.
//!
//! Owns the writer thread (the only read-write connection) and the reader threads (read-only
//! connections with `query_only`), the pragmas and the catalog each connection gets, and
//! forwarding a job a reader cannot run to the writer. Every thread exits when its channel
//! closes. Must not know how a plan runs (see `exec`) or anything async beyond the channels.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use starbase_protocol::{DbError, SqlState};

use super::catalog;
use super::error::classify;
use super::exec::{Role, run_job};
use super::job::Work;
use crate::error::Error;

/// Jobs waiting for the writer before `execute` waits for room.
pub(super) const WRITER_QUEUE: usize = 64;
/// Jobs waiting for a reader before `execute` waits for room.
pub(super) const READER_QUEUE: usize = 64;

/// What a thread's loop needs besides its connection.
#[derive(Debug, Clone)]
pub(super) struct Shared {
    /// Set by `shutdown`: queued jobs are answered with `Error::Closed` instead of run.
    pub(super) closing: Arc<AtomicBool>,
    /// Moves whenever the writer may have committed (see `snapshot`).
    pub(super) epoch: Arc<super::snapshot::Epoch>,
    /// The caller-thread read connections, whose stale snapshots the writer ends.
    pub(super) inline: Option<Arc<super::inline::InlineReaders>>,
}

/// Prepared statements kept per connection, keyed by their text: a repeated statement skips
/// SQLite's parser and planner.
const STATEMENT_CACHE: usize = 256;

/// Opens the read-write connection, creating the file, and sets the database up for one
/// writer and concurrent readers (WAL).
pub(super) fn open_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let mut conn = Connection::open(path).map_err(|e| open_error(path, &e))?;
    let setup = |conn: &mut Connection| -> rusqlite::Result<()> {
        conn.busy_timeout(busy_timeout)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "SQLite did not switch to WAL; readers may wait for writes"
            );
        }
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        catalog::install(conn)?;
        super::access::install(conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(())
    };
    setup(&mut conn).map_err(|e| open_error(path, &e))?;
    Ok(conn)
}

/// Opens a read-only connection to the (existing) database.
pub(super) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e))?;
    let setup = |conn: &mut Connection| -> rusqlite::Result<()> {
        conn.busy_timeout(busy_timeout)?;
        // The catalog's TEMP views first: `query_only` forbids writing temp too.
        catalog::install(conn)?;
        conn.execute_batch("PRAGMA query_only = 1;")?;
        super::access::install(conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(())
    };
    setup(&mut conn).map_err(|e| open_error(path, &e))?;
    Ok(conn)
}

/// Page cache of a dump's connection, in KiB: a dump reads each page once, in order, so a
/// large cache would only hold pages it never reads again.
const DUMP_CACHE_KIB: u32 = 512;

/// Opens the read-only connection of a dump snapshot: `query_only`, a small page cache, no
/// memory mapping, and without the PostgreSQL catalog views (a dump runs plain SQLite
/// statements; the views' schema would only cost memory).
pub(super) fn open_dump_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e))?;
    let setup = |conn: &Connection| -> rusqlite::Result<()> {
        conn.busy_timeout(busy_timeout)?;
        conn.execute_batch(&format!(
            "PRAGMA query_only = 1; PRAGMA cache_size = -{DUMP_CACHE_KIB}; PRAGMA mmap_size = 0;"
        ))?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(())
    };
    setup(&conn).map_err(|e| open_error(path, &e))?;
    Ok(conn)
}

fn open_error(path: &Path, err: &rusqlite::Error) -> Error {
    let db = classify(err);
    Error::Db(DbError {
        message: format!(
            "could not open database \"{}\": {}",
            path.display(),
            db.message
        ),
        ..db
    })
}

/// Starts a named thread running `body`.
pub(super) fn spawn(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map_err(|e| {
            Error::Db(DbError::new(
                SqlState::IO_ERROR,
                format!("could not start thread {name}: {e}"),
            ))
        })
}

/// How many times an idle thread yields, checking for new work, before it sleeps. Under load
/// the next job usually arrives within a few yields, and a thread that never sleeps saves
/// the wake-up (a futex call and a context switch) per job; an idle gateway pays for a few
/// dozen `sched_yield` calls once, then sleeps.
const SPIN_YIELDS: usize = 64;

/// The next piece of work: briefly yield-spin for one, then block.
fn next_work(rx: &async_channel::Receiver<Work>) -> Option<Work> {
    for _ in 0..SPIN_YIELDS {
        match rx.try_recv() {
            Ok(work) => return Some(work),
            Err(async_channel::TryRecvError::Closed) => return None,
            Err(async_channel::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    rx.recv_blocking().ok()
}

/// A reader's next piece of work: like `next_work`, keeping the held snapshot while it
/// spins and releasing it before it sleeps (an idle reader must not hold back checkpoints).
fn next_read_work(
    rx: &async_channel::Receiver<Work>,
    snapshot: &mut super::snapshot::Snapshot,
    conn: &Connection,
) -> Option<Work> {
    for _ in 0..SPIN_YIELDS {
        match rx.try_recv() {
            Ok(work) => return Some(work),
            Err(async_channel::TryRecvError::Closed) => return None,
            Err(async_channel::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    snapshot.release(conn);
    rx.recv_blocking().ok()
}

/// The writer's loop: every job runs here, in arrival order.
pub(super) fn writer_loop(
    mut conn: Connection,
    rx: &async_channel::Receiver<Work>,
    shared: &Shared,
) {
    super::snapshot::Epoch::attach_to_this_thread(&shared.epoch);
    while let Some(work) = next_work(rx) {
        // Writes and checkpoints meet no idle caller-thread snapshot.
        if let Some(inline) = &shared.inline {
            inline.release_all();
        }
        match work {
            Work::Plan(job) if shared.closing.load(Ordering::Acquire) => job.reject(Error::Closed),
            Work::Plan(job) if job.session.is_some() => {
                super::session_lease::run_session_job(&mut conn, job, shared);
            }
            // The writer never hands a job on.
            Work::Plan(job) => drop(run_job(&mut conn, Role::Writer, job)),
            Work::Lease(request) if shared.closing.load(Ordering::Acquire) => {
                drop(request.ready.send(Err(Error::Closed)));
            }
            Work::Lease(request) => super::lease::serve(&mut conn, request, &shared.closing),
            Work::Size(reply) => drop(reply.send(database_size(&conn))),
        }
        // Whatever the job committed, caller-thread readers must not keep an older snapshot.
        if let Some(inline) = &shared.inline {
            inline.release_stale();
        }
    }
    tracing::debug!("SQLite writer thread stopped");
}

/// A reader's loop: read-only jobs; one that turns out to write goes on to the writer.
///
/// Reads run inside a held read transaction that is kept between jobs while the writer has
/// committed nothing (`snapshot`), and released before the thread sleeps.
pub(super) fn reader_loop(
    mut conn: Connection,
    rx: &async_channel::Receiver<Work>,
    writer: &async_channel::Sender<Work>,
    shared: &Shared,
) {
    let mut snapshot = super::snapshot::Snapshot::default();
    loop {
        let Some(work) = next_read_work(rx, &mut snapshot, &conn) else {
            break;
        };
        match work {
            Work::Plan(job) if shared.closing.load(Ordering::Acquire) => job.reject(Error::Closed),
            Work::Plan(job) => {
                let role = snapshot.prepare(&conn, &job.plan, &shared.epoch);
                if let Some(job) = run_job(&mut conn, role, job) {
                    tracing::debug!(
                        "read-only plan has a writing statement; handing it to the writer"
                    );
                    if let Err(async_channel::SendError(Work::Plan(job))) =
                        writer.send_blocking(Work::Plan(job))
                    {
                        job.reject(Error::Closed);
                    }
                }
            }
            // Leases are sent to the writer; pass on any that arrives here.
            Work::Lease(request) => {
                if let Err(async_channel::SendError(Work::Lease(request))) =
                    writer.send_blocking(Work::Lease(request))
                {
                    drop(request.ready.send(Err(Error::Closed)));
                }
            }
            Work::Size(reply) => {
                snapshot.release(&conn);
                drop(reply.send(database_size(&conn)));
            }
        }
    }
    snapshot.release(&conn);
    tracing::debug!("SQLite reader thread stopped");
}

/// `page_count * page_size` of the main database.
fn database_size(conn: &Connection) -> Result<u64, Error> {
    let pragma = |name: &str| -> Result<u64, Error> {
        let value: i64 = conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .map_err(|e| Error::Db(classify(&e)))?;
        u64::try_from(value).map_err(|_| Error::Db(DbError::internal(format!("negative {name}"))))
    };
    Ok(pragma("page_count")? * pragma("page_size")?)
}
