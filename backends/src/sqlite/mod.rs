//! The embedded SQLite engine.
//!
//! Owns the database file: one writer thread (the only connection that writes) and a pool of
//! read-only connections on their own threads, used for read-only plans. Every SQLite call
//! happens on these threads, never on async workers: jobs reach them over bounded
//! `async_channel`s, and rows come back through the job's bounded result stream. Must not
//! know any frontend.
//!
//! Layout:
//! - this file: the public API (`SqliteBackend`, `SqliteConfig`, `ExecOptions`);
//! - `session`: interactive sessions (`SqliteSession`), whose transactions span plans;
//!   `session_lease`: the writer serving one session while its transaction is open; `txn`:
//!   one session plan under PostgreSQL's transaction-block rules;
//! - `threads`: opening connections, the writer and reader loops; `catalog`: the
//!   PostgreSQL catalog views and functions every connection gets when it opens;
//! - `job`: a job, its result stream, cancellation and timeout;
//! - `exec`: plan modes and transactions; `step`: one statement text; `split`: statement
//!   boundaries; `convert`: values and columns; [`error`]: SQLite errors to SQLSTATEs;
//! - `snapshot`: readers keep their read transaction between jobs while nothing was
//!   committed; `inline`: short reads run on the caller's thread;
//! - `dump`: one read transaction held on a connection of its own for a dump;
//! - `lease`: one writer transaction spanning several plans (imports); `session`,
//!   `session_lease`, `txn`: interactive sessions with PostgreSQL's transaction rules.

pub mod error;

mod access;

mod catalog;
mod convert;
mod dump;
mod exec;
mod inline;
mod job;
mod lease;
mod origin;
mod session;
mod session_lease;
mod snapshot;
pub mod split;
mod step;
mod threads;
mod txn;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use starbase_protocol::{ExecMode, Plan};
use tokio::sync::oneshot;

pub use self::catalog::{DATABASE_NAME, catalog_column_type};
pub use self::dump::DumpSnapshot;
use self::job::{Job, Work};
pub use self::lease::WriterLease;
pub use self::session::{DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT, SessionConfig, SqliteSession};
use self::threads::{READER_QUEUE, Shared, WRITER_QUEUE};
use crate::error::Error;
use crate::result::{CHANNEL_DEPTH, ResultStream};

/// Read-only connections opened when the configuration does not say.
pub const DEFAULT_READERS: usize = 4;
/// How long a connection waits for a lock held by another one, by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database lives and how many threads serve it.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file; created when missing (its directory must exist).
    pub path: PathBuf,
    /// Reader threads, each with its own read-only connection (default 4). With 0, every
    /// plan runs on the writer.
    pub readers: usize,
    /// How long a connection waits for another's lock before `55P03` (default 5 s).
    pub busy_timeout: Duration,
}

impl SqliteConfig {
    /// The default configuration for the database at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            readers: DEFAULT_READERS,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// Options for one `execute` call.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Cancel the plan with `57014` once it has run (including time queued) this long.
    /// `None` or zero: no limit.
    pub statement_timeout: Option<Duration>,
}

impl ExecOptions {
    /// When the plan must stop, counted from now.
    fn deadline(&self) -> Option<Instant> {
        self.statement_timeout
            .filter(|d| !d.is_zero())
            .and_then(|d| Instant::now().checked_add(d))
    }
}

/// The embedded SQLite database. Cheap to clone; all clones share the same threads.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: async_channel::Sender<Work>,
    readers: Option<async_channel::Sender<Work>>,
    /// Connections for short reads on the caller's thread (with readers only).
    inline: Option<Arc<inline::InlineReaders>>,
    /// Dropping it stops the thread that ends idle caller-thread snapshots.
    janitor: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    closing: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl SqliteBackend {
    /// Opens (or creates) the database file, switches it to WAL with `foreign_keys = ON`,
    /// `synchronous = NORMAL` and the busy timeout, and starts one writer thread and
    /// `config.readers` reader threads.
    ///
    /// Opening the connections is blocking file I/O: call this at startup, not per request.
    ///
    /// # Errors
    /// `58030` when the file cannot be opened or a thread cannot start, `XX001` when the
    /// file is not a database.
    pub fn open(config: SqliteConfig) -> Result<Self, Error> {
        let writer_conn = threads::open_writer(&config.path, config.busy_timeout)?;
        let reader_conns = (0..config.readers)
            .map(|_| threads::open_reader(&config.path, config.busy_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        // One per thread that can run `execute` at once (the async workers); more would idle.
        let epoch = Arc::new(snapshot::Epoch::default());
        let inline = if config.readers == 0 {
            None
        } else {
            let workers = std::thread::available_parallelism().map_or(1, usize::from);
            Some(Arc::new(inline::InlineReaders::open(
                &config.path,
                workers.min(config.readers),
                Arc::clone(&epoch),
            )?))
        };
        let shared = Shared {
            closing: Arc::new(AtomicBool::new(false)),
            epoch,
            inline: inline.clone(),
        };
        let (writer, writer_rx) = async_channel::bounded(WRITER_QUEUE);
        let mut handles = Vec::with_capacity(config.readers + 2);
        let janitor = match &inline {
            Some(inline) => {
                let (stop, stopped) = std::sync::mpsc::channel();
                let inline = Arc::clone(inline);
                handles.push(threads::spawn("starbase-sqlite-janitor", move || {
                    inline::janitor(&inline, &stopped);
                })?);
                Some(stop)
            }
            None => None,
        };
        let thread_shared = shared.clone();
        handles.push(threads::spawn("starbase-sqlite-writer", move || {
            threads::writer_loop(writer_conn, &writer_rx, &thread_shared);
        })?);
        let readers = if reader_conns.is_empty() {
            None
        } else {
            let (readers, readers_rx) = async_channel::bounded(READER_QUEUE);
            for (i, conn) in reader_conns.into_iter().enumerate() {
                let (rx, writer, shared) = (readers_rx.clone(), writer.clone(), shared.clone());
                handles.push(threads::spawn(
                    &format!("starbase-sqlite-reader-{i}"),
                    move || {
                        threads::reader_loop(conn, &rx, &writer, &shared);
                    },
                )?);
            }
            Some(readers)
        };
        tracing::info!(path = %config.path.display(), readers = config.readers, "SQLite database open");
        Ok(Self {
            inner: Arc::new(Inner {
                path: config.path,
                writer,
                readers,
                inline,
                janitor: Mutex::new(janitor),
                closing: shared.closing,
                threads: Mutex::new(handles),
            }),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many plans were short reads answered on the caller's thread instead of a reader
    /// thread (for monitoring; see the `inline` module).
    #[must_use]
    pub fn inline_reads(&self) -> u64 {
        self.inner
            .inline
            .as_ref()
            .map_or(0, |inline| inline.answered())
    }

    /// Runs `plan` and returns its result stream at once; the work happens on the SQLite
    /// threads. Read-only plans go to a reader (which passes them to the writer if a
    /// statement turns out to write); everything else goes to the writer.
    ///
    /// Statement errors arrive on the stream as `Err(Error::Db(..))` and end it: `22023`
    /// parameters, `25001` transaction control inside a transaction request or a
    /// transaction left open, `42601` syntax or empty query, `57014` timeout or cancel, and
    /// SQLite's errors as mapped by [`error::classify`]. Dropping the stream cancels the
    /// plan and rolls back its transaction.
    ///
    /// # Errors
    /// [`Error::Closed`] when the backend is shutting down.
    pub async fn execute(&self, plan: Plan, opts: ExecOptions) -> Result<ResultStream, Error> {
        let (tx, rx) = ResultStream::channel(CHANNEL_DEPTH);
        self.submit_job(Job {
            plan,
            deadline: opts.deadline(),
            tx,
            session: None,
        })
        .await?;
        Ok(rx)
    }

    /// Queues a job where its plan belongs: a reader for a read-only plan, else the writer.
    /// A short read is answered at once on this thread instead (see `inline`).
    async fn submit_job(&self, job: Job) -> Result<(), Error> {
        let job = match &self.inner.inline {
            Some(inline)
                if matches!(job.plan.mode, ExecMode::Single | ExecMode::Describe)
                    && job.plan.is_read_only()
                    && !self.inner.closing.load(Ordering::Acquire) =>
            {
                match inline.try_run(job) {
                    None => return Ok(()),
                    Some(job) => job,
                }
            }
            _ => job,
        };
        let queue = match &self.inner.readers {
            Some(readers) if job.plan.is_read_only() => readers,
            _ => &self.inner.writer,
        };
        self.submit(queue, Work::Plan(job)).await
    }

    /// Stops accepting work, lets every thread finish the job it is running (queued jobs
    /// are answered with [`Error::Closed`]), and waits for the threads to exit.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::Release);
        self.inner.writer.close();
        if let Some(readers) = &self.inner.readers {
            readers.close();
        }
        drop(
            self.inner
                .janitor
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let handles = std::mem::take(
            &mut *self
                .inner
                .threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if handles.is_empty() {
            return;
        }
        // Joining blocks; do it on the blocking pool, not on an async worker.
        let joined = tokio::task::spawn_blocking(move || {
            for handle in handles {
                if handle.join().is_err() {
                    tracing::error!("a SQLite thread panicked");
                }
            }
        });
        if let Err(e) = joined.await {
            tracing::error!(error = %e, "joining the SQLite threads failed");
        }
        tracing::info!("SQLite database closed");
    }

    /// Takes the writer for one transaction spanning several plans (`BEGIN IMMEDIATE` now,
    /// `WriterLease::commit` later). Waits until the writer is free; other writes queue while
    /// the lease is held, reads keep running. A lease idle for `idle_timeout` is rolled back.
    ///
    /// # Errors
    /// [`Error::Closed`] when shutting down; `55P03` when SQLite cannot take the write lock.
    pub async fn lease_writer(&self, idle_timeout: Duration) -> Result<WriterLease, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready, answer) = oneshot::channel();
        let request = lease::LeaseRequest {
            rx,
            ready,
            idle_timeout,
        };
        self.submit(&self.inner.writer, Work::Lease(request))
            .await?;
        answer.await.map_err(|_| Error::Closed)??;
        Ok(WriterLease::new(tx))
    }

    /// Size of the database in bytes (`page_count * page_size`).
    ///
    /// # Errors
    /// [`Error::Closed`] when shutting down; SQLite errors as mapped by [`error::classify`].
    pub async fn database_size(&self) -> Result<u64, Error> {
        let (reply, answer) = oneshot::channel();
        let queue = self.inner.readers.as_ref().unwrap_or(&self.inner.writer);
        self.submit(queue, Work::Size(reply)).await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    async fn submit(&self, queue: &async_channel::Sender<Work>, work: Work) -> Result<(), Error> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        queue.send(work).await.map_err(|_| Error::Closed)
    }
}
