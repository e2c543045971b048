//! The PostgreSQL wire proxy: a client that asks for the database `external` (or a named
//! source) is authenticated by the gateway (SCRAM against the tokens, as for the embedded
//! database) and then talks to the external PostgreSQL server itself.
//!
//! Owns routing by database name, the proxied session's life, and cancel forwarding. The
//! server's own messages reach the client unchanged, so its type OIDs, catalog, COPY,
//! errors (with every field) and extended protocol are the server's. Sessions share a pool
//! of server connections per source (transaction pooling): a client holds one from its
//! first message until `ReadyForQuery` says idle, so a transaction stays on one connection;
//! its settings and prepared statements follow it to whichever connection it gets next, and
//! session-level features pin it to its connection. A lone autocommit statement that
//! leaves nothing in the session goes onto a pipelined connection (a lane) shared by many
//! clients at once instead. Must not know SQL beyond the session effects and the
//! pipelining test `starbase_protocol` provides.
//!
//! Layout: `frames` (raw messages), `client` (the client side's SCRAM), `stream` (the server
//! socket: TCP or Unix-domain), `backend` (the log-in to the server), `pool` (server
//! connections and shared statements), `settings` (a client's settings), `relay` (the
//! session's poll loop and state), `requests` and `responses` (the per-message rules of each
//! direction), `lane` (pipelined connections) and `pipelined` (the session's side of them). Sessions over plain TCP are relayed on one thread of their own (a
//! `super::threads::SessionThreads` of one), which owns their client and server sockets:
//! relaying costs a few microseconds per message, and one thread whose `epoll_wait` returns
//! many sessions' sockets at once measured ahead of spreading them over the embedded
//! database's session threads (`pgbench -S`, 8 clients: 0.73× direct on one thread, 0.66–0.71×
//! on two), as PgBouncer runs in one event loop.

mod backend;
mod client;
pub mod frames;
mod lane;
mod pipelined;
mod pool;
mod relay;
mod requests;
mod responses;
mod settings;
mod stream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::Startup;
use pgwire::tokio::server::MaybeTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use self::frames::{Wire, authentication, error_body, frame, put_message};
use self::pool::{AcquireError, Pool, ServerConn};
use self::settings::Settings;
use self::stream::ServerAddr;
use super::PgFrontend;
use super::connection::Socket;
use super::error::error_info;
use super::threads::SessionThreads;

/// An external PostgreSQL server the proxy logs in to.
#[derive(Clone)]
pub struct ProxyTarget {
    /// The source's name (`external`, or a configured name).
    pub name: String,
    /// Server host, or (an absolute path) the directory of its Unix-domain socket.
    pub host: String,
    /// Server port (for a socket directory: the number in the socket's name).
    pub port: u16,
    /// The user the gateway logs in as.
    pub user: String,
    /// Its password, if the server asks for one.
    pub password: Option<String>,
    /// The database on the server.
    pub database: String,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// The source requires TLS to the server, which the proxy does not speak yet: its
    /// sessions are refused rather than sent in plain text (never set for a socket, where
    /// TLS does not apply).
    pub tls_required: bool,
    /// Server connections the pool opens at most (the source's pool size).
    pub pool_size: usize,
    /// How long a client waits for a free server connection before `53300`.
    pub acquire_timeout: Duration,
    /// Whether clients' lone autocommit statements may go onto pipelined connections.
    pub pipeline: bool,
}

impl std::fmt::Debug for ProxyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTarget")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl ProxyTarget {
    /// The server's Unix-domain socket when `host` is a directory (`<host>/.s.PGSQL.<port>`).
    #[must_use]
    pub fn unix_socket(&self) -> Option<std::path::PathBuf> {
        starbase_backends::external::config::unix_socket(&self.host, self.port)
    }

    /// `host:port` or the socket's path, for messages.
    #[must_use]
    pub fn address(&self) -> String {
        match self.unix_socket() {
            Some(path) => path.display().to_string(),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// Where a client's cancel request goes: the server connection it holds, or the lane its
/// request is queued on, if any.
#[derive(Debug, Default)]
pub(super) struct CancelSlot(Mutex<Option<CancelTo>>);

/// A cancel key: process id and secret.
type CancelKey = (i32, Vec<u8>);

/// What a session's cancel request reaches.
#[derive(Debug, Clone)]
enum CancelTo {
    /// The connection the session holds.
    Conn(CancelKey, ServerAddr),
    /// The session's request on a lane: cancelled once the server runs it.
    Lane(Arc<lane::Lane>, Arc<lane::UnitSink>),
}

impl CancelSlot {
    fn set(&self, key: Option<CancelKey>, addr: ServerAddr) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) =
            key.map(|k| CancelTo::Conn(k, addr));
    }

    fn set_lane(&self, lane: Arc<lane::Lane>, sink: Arc<lane::UnitSink>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(CancelTo::Lane(lane, sink));
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn get(&self) -> Option<CancelTo> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The sources clients can reach through the wire (a pool each), and the cancel keys the
/// proxy gave its sessions.
#[derive(Debug, Default)]
pub struct Proxy {
    pools: HashMap<String, Arc<Pool>>,
    keys: Mutex<HashMap<CancelKey, Arc<CancelSlot>>>,
    next_client: AtomicU64,
    /// The one thread sessions over plain TCP are relayed on (`None`: no sources, or the
    /// thread could not start; sessions then stay where they were accepted).
    relay: Option<SessionThreads>,
}

/// A source's pool, as [`Proxy::target_for`] finds it.
#[derive(Debug, Clone)]
pub struct ProxyPool(Arc<Pool>);

impl Proxy {
    /// A proxy to these sources (by name).
    #[must_use]
    pub fn new(targets: Vec<ProxyTarget>) -> Self {
        let relay = if targets.is_empty() {
            None
        } else {
            SessionThreads::start("starbase-pg-relay", 1)
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "the wire proxy's relay thread did not start");
                })
                .ok()
        };
        Self {
            pools: targets
                .into_iter()
                .map(|t| (t.name.clone(), Arc::new(Pool::new(t))))
                .collect(),
            keys: Mutex::default(),
            next_client: AtomicU64::new(1),
            relay,
        }
    }

    /// The source a start-up packet's database names, if any.
    #[must_use]
    pub fn target_for(&self, startup: &Startup) -> Option<ProxyPool> {
        let database = startup.parameters.get("database")?;
        self.pools.get(database).cloned().map(ProxyPool)
    }

    /// Forwards a `CancelRequest` whose key belongs to a proxied session to the server
    /// connection that session holds; false when the key is not one of the proxy's (the
    /// embedded database's cancel handler takes it).
    pub async fn cancel(&self, request: &CancelRequest) -> bool {
        let key = (request.pid, request.secret_key.to_bytes().to_vec());
        let slot = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let Some(slot) = slot else {
            return false;
        };
        // Nothing held: nothing runs, nothing to cancel.
        let ((pid, secret), addr) = match slot.get() {
            None => return true,
            Some(CancelTo::Conn(key, addr)) => (key, addr),
            // On a lane the server runs other sessions' statements too: only this one's.
            Some(CancelTo::Lane(lane, sink)) => match lane.cancel_target(&sink).await {
                Some(target) => target,
                None => return true,
            },
        };
        let mut packet = Vec::with_capacity(16);
        let len = u32::try_from(12 + secret.len()).unwrap_or(16);
        packet.extend_from_slice(&len.to_be_bytes());
        packet.extend_from_slice(&80_877_102u32.to_be_bytes());
        packet.extend_from_slice(&pid.to_be_bytes());
        packet.extend_from_slice(&secret);
        // To where the held connection is: its TCP address or its Unix-domain socket.
        if let Ok(Ok(mut socket)) =
            tokio::time::timeout(Duration::from_secs(5), addr.connect()).await
        {
            let _ = socket.write_all(&packet).await;
        }
        true
    }

    /// A fresh cancel key for a session, registered with its slot.
    fn register(&self, slot: Arc<CancelSlot>) -> (i32, Vec<u8>) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let pid = rand::random::<i32>() & i32::MAX;
            let secret = rand::random::<[u8; 4]>().to_vec();
            let key = (pid, secret);
            if pid != 0 && !keys.contains_key(&key) {
                keys.insert(key.clone(), slot);
                return key;
            }
        }
    }

    fn unregister(&self, key: &(i32, Vec<u8>)) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// Serves a proxied session: authenticate the client (an address over its failed-login limit
/// is refused with FATAL `53400`, and a failed login counts), apply its settings on a pooled
/// server connection and greet it with what that server reported, then relay.
///
/// # Errors
/// Socket failures.
pub async fn run(
    socket: Socket,
    startup: Startup,
    pool: ProxyPool,
    frontend: &PgFrontend,
    peer: Option<std::net::IpAddr>,
) -> std::io::Result<()> {
    let parts = socket.into_parts();
    match (parts.io, frontend.proxy.relay.as_ref()) {
        (MaybeTls::Plain(tcp), Some(relay)) => {
            // Re-registered with the relay thread's reactor, which then owns the socket.
            let tcp = tcp.into_std()?;
            let (read_buf, frontend) = (parts.read_buf, frontend.clone());
            let session = async move {
                let io = MaybeTls::Plain(TcpStream::from_std(tcp)?);
                session(io, read_buf, startup, pool.0, &frontend, peer).await
            };
            relay.run(session).await.unwrap_or(Ok(()))
        }
        (io, _) => session(io, parts.read_buf, startup, pool.0, frontend, peer).await,
    }
}

/// [`run`] on the thread it runs on.
async fn session(
    io: MaybeTls,
    read_buf: BytesMut,
    startup: Startup,
    pool: Arc<Pool>,
    frontend: &PgFrontend,
    peer: Option<std::net::IpAddr>,
) -> std::io::Result<()> {
    let mut client = Wire::new(io, read_buf);
    let limits = &frontend.shared.rate_limits;
    if let Err(limited) = limits.check_auth_allowed(peer) {
        let error = limited.to_db_error();
        let body = error_body("FATAL", error.code.as_str(), &error.message);
        return client.write(b'E', &body).await;
    }
    let Some(role) = client::authenticate(&mut client, &frontend.scram, &startup).await? else {
        limits.record_auth_failure(peer);
        return Ok(());
    };
    // A relayed session reaches PostgreSQL unchanged: the allowlist and row-level security
    // could not see its statements, so restricted callers are not relayed at all.
    let principal = crate::auth::Principal::new(role);
    if frontend
        .shared
        .engine
        .guard()
        .is_some_and(|g| g.restricts(&principal))
    {
        client::refuse(
            &mut client,
            "42501",
            "clients cannot use a relayed PostgreSQL source while the allowlist or \
             row-level security is enabled; use the HTTP API for this source",
        )
        .await?;
        return Ok(());
    }
    let startup_settings = settings::from_startup(&startup.parameters);
    let mut held = match pool.acquire().await {
        Ok(held) => held,
        Err(AcquireError::Server(body)) => return client.write(b'E', &body).await,
        Err(AcquireError::Gateway(error)) => {
            let info = error_info(&error);
            let body = error_body("FATAL", &info.code, &info.message);
            return client.write(b'E', &body).await;
        }
    };
    if held.conn.applied.as_ref() != Some(&startup_settings)
        && let Err(body) = apply_settings(&mut held.conn, &startup_settings, pool.target()).await
    {
        // The server refused a start-up parameter (or went away): FATAL for the client,
        // as the server itself answers a bad start-up packet.
        return client.write(b'E', &body).await;
    }
    let slot = Arc::new(CancelSlot::default());
    let key = frontend.proxy.register(slot.clone());
    let mut hello = BytesMut::from(&frame(b'R', &authentication(0, &[]))[..]);
    for (name, value) in &held.conn.reported {
        put_message(
            &mut hello,
            b'S',
            &[name.as_bytes(), &[0], value.as_bytes(), &[0]],
        );
    }
    put_message(&mut hello, b'K', &[&key.0.to_be_bytes(), &key.1]);
    put_message(&mut hello, b'Z', &[b"I"]);
    pool.release(held);
    let written = async {
        client.io.write_all(&hello).await?;
        client.io.flush().await
    }
    .await;
    if written.is_ok() {
        let id = frontend.proxy.next_client.fetch_add(1, Ordering::Relaxed);
        let state = relay::client_state(id, startup_settings);
        relay::Relay::new(&pool, client.io, client.buf, state, slot)
            .run()
            .await;
    }
    frontend.proxy.unregister(&key);
    written
}

/// Runs the settings statement on a connection at a client's log-in, recording what the
/// server reports; the server's error body when it fails.
async fn apply_settings(
    conn: &mut ServerConn,
    settings: &Settings,
    target: &ProxyTarget,
) -> Result<(), Vec<u8>> {
    let lost = || {
        error_body(
            "FATAL",
            "08006",
            &format!("the connection to source \"{}\" was lost", target.name),
        )
    };
    let sql = settings::setup_sql(settings);
    let mut out = BytesMut::new();
    put_message(&mut out, b'Q', &[sql.as_bytes(), &[0]]);
    conn.io.write_all(&out).await.map_err(|_| lost())?;
    let mut error = None;
    loop {
        let Some(len) = requests::message_len(&conn.buf) else {
            read_more(conn, target).await.map_err(|()| lost())?;
            continue;
        };
        if conn.buf.len() < len {
            read_more(conn, target).await.map_err(|()| lost())?;
            continue;
        }
        let message = conn.buf.split_to(len);
        match message[0] {
            b'S' => {
                if let Some((name, value)) = frames::parameter_status(&message[5..]) {
                    conn.reported.insert(name, value);
                }
            }
            b'E' => error = Some(message[5..].to_vec()),
            b'Z' => break,
            _ => {}
        }
    }
    match error {
        Some(body) => {
            conn.applied = None;
            Err(body)
        }
        None => {
            conn.applied = Some(settings.clone());
            Ok(())
        }
    }
}

async fn read_more(conn: &mut ServerConn, target: &ProxyTarget) -> Result<(), ()> {
    match tokio::time::timeout(target.connect_timeout, conn.io.read_buf(&mut conn.buf)).await {
        Ok(Ok(n)) if n > 0 => Ok(()),
        _ => Err(()),
    }
}
