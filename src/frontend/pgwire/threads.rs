//! Session threads: pgwire connections run on a few threads of their own, each a
//! single-threaded runtime that owns the sockets of the sessions placed on it, as
//! PgBouncer runs every session in one event loop and thread-per-core servers run one per
//! core.
//!
//! Owns those threads, placing a session on one (round robin) and moving it there. A
//! session spends nearly all its time waiting for its socket and some microseconds per
//! message. On the gateway's work-stealing runtime each wake-up may hop between worker
//! threads, idle workers look for work to steal before they sleep, and a socket's
//! readiness arrives through whichever worker polled the reactor last: measured on a point
//! select over the extended protocol, that costs about a third more CPU per query than the
//! same sessions on threads that own their reactor, where one `epoll_wait` returns the
//! ready sockets of many sessions and each is handled where it was read. Work that may take
//! long does not run here: SQLite statements go to the SQLite threads (only bounded point
//! reads run inline), and external servers are awaited. A pooled connection to an external
//! server that a session opens stays registered with that session's thread, and may later
//! serve HTTP requests from the pool: one more reason nothing long may run on these
//! threads. The threads stop when the last
//! holder of the `SessionThreads` drops it; the sessions still on them end with them. Must
//! not know the protocol.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;
use tokio_util::task::AbortOnDropHandle;

/// One session thread.
#[derive(Debug)]
struct SessionThread {
    handle: tokio::runtime::Handle,
    /// Dropping it ends the thread's runtime.
    _stop: oneshot::Sender<()>,
}

impl SessionThread {
    fn start(name: String) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new().name(name).spawn(move || {
            // Sessions run while this waits; when the owner goes, so does the runtime.
            let _ = runtime.block_on(stopped);
        })?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }
}

/// The session threads.
#[derive(Debug)]
pub struct SessionThreads {
    threads: Vec<SessionThread>,
    next: AtomicUsize,
}

impl SessionThreads {
    /// Starts `count` threads (at least one) named `<name>-<n>`.
    ///
    /// # Errors
    /// A runtime or a thread could not be created.
    pub fn start(name: &str, count: usize) -> io::Result<Self> {
        let threads = (0..count.max(1))
            .map(|n| SessionThread::start(format!("{name}-{n}")))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            threads,
            next: AtomicUsize::new(0),
        })
    }

    /// One thread per core the process may use.
    ///
    /// # Errors
    /// As [`SessionThreads::start`].
    pub fn per_core(name: &str) -> io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::start(name, cores)
    }

    /// How many threads there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether there are none (never: `start` makes at least one).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Runs `session` on the next thread and waits for it; dropping the returned future
    /// (the gateway shutting down, the caller cancelled) aborts the session. `None` when
    /// the session was aborted or panicked. The session must register its sockets itself
    /// (`TcpStream::from_std` inside it), so that they belong to its thread's reactor.
    pub async fn run<F>(&self, session: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.threads.len();
        AbortOnDropHandle::new(self.threads[n].handle.spawn(session))
            .await
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn sessions_take_the_threads_in_turn() {
        let threads = SessionThreads::start("test-session", 2).unwrap();
        assert_eq!(threads.len(), 2);
        let mut names = Vec::new();
        for _ in 0..4 {
            names.push(threads.run(async { thread_name() }).await.unwrap());
        }
        assert_eq!(
            names,
            [
                "test-session-0",
                "test-session-1",
                "test-session-0",
                "test-session-1"
            ]
        );
    }

    #[tokio::test]
    async fn dropping_the_wait_aborts_the_session() {
        let threads = SessionThreads::start("test-abort", 1).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let session = threads.run(async move {
            // Holds `tx` until aborted; the receiver then sees the sender dropped.
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), session).await;
        assert!(waited.is_err(), "the session never ends by itself");
        // The wait was dropped by the timeout: the session is aborted and drops `tx`.
        assert!(rx.await.is_err());
    }

    #[tokio::test]
    async fn sockets_registered_on_a_session_thread_work() {
        let threads = SessionThreads::start("test-io", 1).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        std::io::Write::write_all(&mut client, b"ping").unwrap();
        let (std_socket, _) = listener.accept().unwrap();
        std_socket.set_nonblocking(true).unwrap();
        let read = threads
            .run(async move {
                let mut s = tokio::net::TcpStream::from_std(std_socket).unwrap();
                let mut buf = [0u8; 4];
                tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
                    .await
                    .unwrap();
                (buf, thread_name())
            })
            .await
            .unwrap();
        assert_eq!(read, (*b"ping", "test-io-0".to_owned()));
    }
}
