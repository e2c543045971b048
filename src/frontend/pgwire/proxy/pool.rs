//! The pool of logged-in server connections of one proxy target (transaction pooling), and
//! the target's shared table of prepared statements.
//!
//! Owns `ServerConn` (a logged-in connection and what the proxy knows of its session: the
//! statements prepared on it, the settings applied to it, the parameters it reported),
//! acquiring (bounded by the source's pool size, waiting at most its acquire timeout, `53300`
//! after that; an idle connection the server closed is dropped, not handed out) and
//! releasing. Statements are named per target by their text and parameter types (`sb_<n>`),
//! so clients preparing the same statement share it on every server connection. Must not
//! know the client side or the relay.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use starbase_protocol::{DbError, SqlState};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ProxyTarget;
use super::backend::{LoginError, login};
use super::lane::LaneSet;
use super::settings::Settings;
use super::stream::{ServerAddr, ServerStream};

/// Distinct statements a target remembers before forgetting those no client uses.
const MAX_SHARED_STATEMENTS: usize = 10_000;

/// A prepared statement as the server knows it: its server-side name and the rest of the
/// `Parse` body (query text, parameter types).
#[derive(Debug)]
pub(super) struct StatementDef {
    /// `sb_<n>`, unique in the target.
    pub(super) name: Arc<str>,
    /// The `Parse` body after the statement name.
    pub(super) rest: Bytes,
}

impl StatementDef {
    /// The `Parse` message preparing this statement on a server.
    pub(super) fn parse_message(&self, out: &mut BytesMut) {
        super::frames::put_message(out, b'P', &[self.name.as_bytes(), &[0], &self.rest]);
    }
}

/// A logged-in server connection.
#[derive(Debug)]
pub(super) struct ServerConn {
    /// The socket.
    pub(super) io: ServerStream,
    /// Bytes read from it, not yet relayed.
    pub(super) buf: BytesMut,
    /// The server's cancel key.
    pub(super) key: Option<(i32, Vec<u8>)>,
    /// The server's address or socket (for cancel requests).
    pub(super) addr: ServerAddr,
    /// Server names of the statements prepared on this connection, with when each was last
    /// used (a counter), so the least recently used goes first past the cap.
    pub(super) prepared: HashMap<Arc<str>, u64>,
    /// The use counter.
    pub(super) uses: u64,
    /// Whose unnamed statement the server holds: (client id, that client's parse number).
    pub(super) unnamed: Option<(u64, u64)>,
    /// The client settings applied (after `RESET ALL`); `None` when unknown.
    pub(super) applied: Option<Settings>,
    /// The parameters the server reported (`ParameterStatus`), for client greetings.
    pub(super) reported: BTreeMap<String, String>,
}

impl ServerConn {
    /// False when the server closed the connection (or sent something unasked) while idle.
    /// The socket's readiness answers without a system call in the usual case: the relay's
    /// last read left it not readable, and only the server's FATAL or close makes it so.
    fn is_healthy(&self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            std::task::Poll::Pending => true,
            std::task::Poll::Ready(Err(_)) => false,
            std::task::Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(
                    self.io.try_read(&mut probe),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                )
            }
        }
    }
}

/// A connection taken from the pool; its permit returns when it is dropped or released.
#[derive(Debug)]
pub(super) struct Held {
    /// The connection.
    pub(super) conn: ServerConn,
    permit: OwnedSemaphorePermit,
}

/// One target's pool.
#[derive(Debug)]
pub(super) struct Pool {
    target: ProxyTarget,
    idle: Mutex<Vec<ServerConn>>,
    permits: Arc<Semaphore>,
    statements: Mutex<HashMap<Bytes, Arc<StatementDef>>>,
    next_statement: AtomicU64,
    lanes: Arc<LaneSet>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.lanes.shutdown();
    }
}

/// Why no connection could be had.
#[derive(Debug)]
pub(super) enum AcquireError {
    /// The gateway's own error (`53300`, `08006`).
    Gateway(DbError),
    /// The server refused the log-in; its `ErrorResponse` body.
    Server(BytesMut),
}

impl Pool {
    /// An empty pool for `target`.
    pub(super) fn new(target: ProxyTarget) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(target.pool_size.max(1))),
            lanes: Arc::new(LaneSet::new(target.pool_size, target.pipeline)),
            target,
            idle: Mutex::default(),
            statements: Mutex::default(),
            next_statement: AtomicU64::new(0),
        }
    }

    /// The target's pipelined connections.
    pub(super) fn lanes(&self) -> &Arc<LaneSet> {
        &self.lanes
    }

    /// The target this pool connects to.
    pub(super) fn target(&self) -> &ProxyTarget {
        &self.target
    }

    /// An idle connection, or a new one while the pool has room.
    ///
    /// # Errors
    /// `53300` when none became free within the acquire timeout; `08006` (or the server's
    /// error) when logging in to a new one failed.
    pub(super) async fn acquire(&self) -> Result<Held, AcquireError> {
        // The usual case (a free slot) skips the timer.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => {
                let wait = self.permits.clone().acquire_owned();
                tokio::time::timeout(self.target.acquire_timeout, wait)
                    .await
                    .map_err(|_| ())
                    .and_then(|p| p.map_err(|_| ()))
            }
        };
        let Ok(permit) = permit else {
            return Err(AcquireError::Gateway(DbError::new(
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "no server connection for source \"{}\" became free within {:?}",
                    self.target.name, self.target.acquire_timeout
                ),
            )));
        };
        self.connection(permit).await
    }

    /// A connection if one is free now (no waiting for a slot); `None` also when logging
    /// in to a new one failed (the ordinary path then reports why).
    pub(super) async fn acquire_now(&self) -> Option<Held> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        self.connection(permit).await.ok()
    }

    /// An idle connection, or a new one, for a slot already taken.
    async fn connection(&self, permit: OwnedSemaphorePermit) -> Result<Held, AcquireError> {
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(conn) = idle else {
                break;
            };
            if conn.is_healthy() {
                return Ok(Held { conn, permit });
            }
        }
        let backend = login(&self.target).await.map_err(|e| match e {
            LoginError::Gateway(e) => AcquireError::Gateway(e),
            LoginError::Server(body) => AcquireError::Server(body),
        })?;
        let reported = backend
            .greeting
            .iter()
            .filter(|(kind, _)| *kind == b'S')
            .filter_map(|(_, body)| super::frames::parameter_status(body))
            .collect();
        Ok(Held {
            conn: ServerConn {
                io: backend.wire.io,
                buf: backend.wire.buf,
                key: backend.key,
                addr: backend.addr,
                prepared: HashMap::new(),
                uses: 0,
                unnamed: None,
                applied: Some(Settings::default()),
                reported,
            },
            permit,
        })
    }

    /// Returns an idle connection (at `ReadyForQuery` idle, nothing outstanding).
    pub(super) fn release(&self, held: Held) {
        let Held { conn, permit } = held;
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
        drop(permit);
    }

    /// The shared statement for a `Parse` body's query text and parameter types.
    pub(super) fn statement(&self, rest: &[u8]) -> Arc<StatementDef> {
        let mut statements = self
            .statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(def) = statements.get(rest) {
            return def.clone();
        }
        if statements.len() >= MAX_SHARED_STATEMENTS {
            // Forget what no client holds; server connections keep theirs under the old
            // names, which nobody asks for again.
            statements.retain(|_, def| Arc::strong_count(def) > 1);
        }
        let n = self.next_statement.fetch_add(1, Ordering::Relaxed);
        let rest = Bytes::copy_from_slice(rest);
        let def = Arc::new(StatementDef {
            name: format!("sb_{n}").into(),
            rest: rest.clone(),
        });
        statements.insert(rest, def.clone());
        def
    }
}
