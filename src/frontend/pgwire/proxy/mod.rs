//! The PostgreSQL wire proxy: a client that asks for the database `external` (or a named
//! source) is authenticated by the gateway (SCRAM against the tokens, as for the embedded
//! database) and then talks to the external PostgreSQL server itself.
//!
//! Owns routing by database name, the proxied session's life, and cancel forwarding. After
//! the log-in, bytes are relayed unchanged in both directions, so the server's own type
//! OIDs, catalog, COPY, errors (with every field) and extended protocol reach the client
//! exactly as they would directly. A proxied session keeps one server connection for its
//! whole life (session pinning). Must not know SQL.
//!
//! Layout: `frames` (raw messages), `client` (the client side's SCRAM), `backend` (the log-in
//! to the server).

mod backend;
mod client;
pub mod frames;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::Startup;
use tokio::io::AsyncWriteExt;

use self::backend::{LoginError, login};
use self::frames::{Wire, authentication, error_body, frame};
use super::PgFrontend;
use super::connection::Socket;
use super::error::error_info;

/// An external PostgreSQL server the proxy logs in to.
#[derive(Clone)]
pub struct ProxyTarget {
    /// The source's name (`external`, or a configured name).
    pub name: String,
    /// Server host.
    pub host: String,
    /// Server port.
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
    /// sessions are refused rather than sent in plain text.
    pub tls_required: bool,
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
            .finish()
    }
}

/// The sources clients can reach through the wire, and the cancel keys of live sessions.
#[derive(Debug, Default)]
pub struct Proxy {
    targets: HashMap<String, ProxyTarget>,
    keys: Mutex<HashMap<(i32, Vec<u8>), SocketAddr>>,
}

impl Proxy {
    /// A proxy to these sources (by name).
    #[must_use]
    pub fn new(targets: Vec<ProxyTarget>) -> Self {
        Self {
            targets: targets.into_iter().map(|t| (t.name.clone(), t)).collect(),
            keys: Mutex::default(),
        }
    }

    /// The source a start-up packet's database names, if any.
    #[must_use]
    pub fn target_for(&self, startup: &Startup) -> Option<ProxyTarget> {
        let database = startup.parameters.get("database")?;
        self.targets.get(database).cloned()
    }

    /// Forwards a `CancelRequest` whose key belongs to a proxied session; false when it is
    /// not one (the embedded database's cancel handler takes it).
    pub async fn cancel(&self, request: &CancelRequest) -> bool {
        let key = (request.pid, request.secret_key.to_bytes().to_vec());
        let addr = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        let Some(addr) = addr else {
            return false;
        };
        let mut packet = Vec::with_capacity(16);
        let len = u32::try_from(12 + key.1.len()).unwrap_or(16);
        packet.extend_from_slice(&len.to_be_bytes());
        packet.extend_from_slice(&80_877_102u32.to_be_bytes());
        packet.extend_from_slice(&key.0.to_be_bytes());
        packet.extend_from_slice(&key.1);
        if let Ok(Ok(mut socket)) =
            tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await
        {
            let _ = socket.write_all(&packet).await;
        }
        true
    }

    fn register(&self, key: (i32, Vec<u8>), addr: SocketAddr) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, addr);
    }

    fn unregister(&self, key: &(i32, Vec<u8>)) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// Serves a proxied session: authenticate the client, log in to the server, relay.
///
/// # Errors
/// Socket failures.
pub async fn run(
    socket: Socket,
    startup: Startup,
    target: ProxyTarget,
    frontend: &PgFrontend,
) -> std::io::Result<()> {
    let parts = socket.into_parts();
    let mut client = Wire::new(parts.io, parts.read_buf);
    if !client::authenticate(&mut client, &frontend.scram, &startup).await? {
        return Ok(());
    }
    let mut server = match login(&target, &startup.parameters).await {
        Ok(server) => server,
        Err(LoginError::Server(body)) => return client.write(b'E', &body).await,
        Err(LoginError::Gateway(error)) => {
            let info = error_info(&error);
            let body = error_body("FATAL", &info.code, &info.message);
            return client.write(b'E', &body).await;
        }
    };
    let mut hello = frame(b'R', &authentication(0, &[]));
    for (kind, body) in &server.greeting {
        hello.extend(frame(*kind, body));
    }
    client.io.write_all(&hello).await?;
    client.io.flush().await?;
    let peer = server.wire.io.peer_addr()?;
    if let Some(key) = &server.key {
        frontend.proxy.register(key.clone(), peer);
    }
    // Anything either side sent ahead of the relay goes first.
    if !client.buf.is_empty() {
        server.wire.io.write_all(&client.buf).await?;
    }
    if !server.wire.buf.is_empty() {
        client.io.write_all(&server.wire.buf).await?;
    }
    let relayed = tokio::io::copy_bidirectional(&mut client.io, &mut server.wire.io).await;
    if let Some(key) = &server.key {
        frontend.proxy.unregister(key);
    }
    match relayed {
        Ok(_) => Ok(()),
        // A peer that resets the connection ends the session; nothing to report.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(e),
    }
}
