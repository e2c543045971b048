//! The relay thread: proxied sessions over plain TCP run on one thread of their own, on a
//! single-threaded runtime that owns their sockets (client and server), as PgBouncer runs
//! every session in one event loop.
//!
//! Owns that thread and moving a session onto it. A relay spends nearly all its time waiting
//! for a socket and a few microseconds per message; on the gateway's multi-threaded runtime
//! each wake-up can hop between worker threads (a futex wake, a context switch) and each
//! socket's readiness arrives through whichever worker polled the reactor last. On one thread
//! that owns the reactor its sockets are registered with, one `epoll_wait` returns the ready
//! sockets of many sessions and each is handled where it was read, without a hand-off. The
//! thread stops when the `RelayThread` is dropped; the sessions still on it end with it. Must
//! not know the protocol.

use std::future::Future;
use std::io;

use tokio::sync::oneshot;
use tokio_util::task::AbortOnDropHandle;

/// The thread relayed sessions run on.
#[derive(Debug)]
pub(super) struct RelayThread {
    handle: tokio::runtime::Handle,
    /// Dropping it ends the thread's runtime.
    _stop: oneshot::Sender<()>,
}

impl RelayThread {
    /// Starts the thread and its runtime.
    ///
    /// # Errors
    /// The runtime or the thread could not be created.
    pub(super) fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("starbase-pg-relay".to_owned())
            .spawn(move || {
                // Sessions run while this waits; when the proxy goes, so does the runtime.
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }

    /// Runs `session` on the relay thread and waits for it; dropping the returned future
    /// (the gateway shutting down, the caller cancelled) aborts the session.
    pub(super) async fn run<F>(&self, session: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        AbortOnDropHandle::new(self.handle.spawn(session))
            .await
            .ok()
    }
}
