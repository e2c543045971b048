//! The PostgreSQL wire protocol frontend: psql, drivers and ORMs against the embedded
//! SQLite database.
//!
//! Owns the pgwire listener and the per-connection handlers. Layout:
//! - this file: accepting connections (TLS when configured), one owned, cancellable task
//!   per connection on one of the session threads ([`threads`]), and the pgwire handler set
//!   of a connection;
//! - [`startup`], [`auth`], [`scram`]: start-up; SCRAM-SHA-256 against the tokens, or
//!   cleartext passwords (tokens or JWTs) over TLS or loopback when JWT auth is configured;
//!   failed logins and queries count against the rate limits; a JWT session ends (FATAL
//!   `28P01`) at its first query after the token expired;
//! - [`simple`]: the simple query protocol; [`prepared`], [`extended`], [`portal`]: the
//!   extended one; [`commands`]: `SET`/`SHOW`/advisory locks; [`settings`]: session GUCs;
//! - [`dialect`]: the PostgreSQL dialect on SQLite; [`describe`], [`encode`], [`decode`],
//!   [`numeric`], [`datetime`], [`array`]: types and values on the wire; [`error`], [`wire`]:
//!   replies.
//!
//! Must not know backend internals: plans go through the engine's SQLite session.

pub mod advisory;
pub mod array;
pub mod auth;
pub mod commands;
pub mod conn;
pub mod connection;
pub mod cork;
pub mod datetime;
pub mod decode;
pub mod describe;
pub mod dialect;
pub mod encode;
pub mod error;
pub mod extended;
pub mod numeric;
pub mod portal;
pub mod prepared;
pub mod proxy;
pub mod scram;
pub mod settings;
pub mod shapes;
pub mod simple;
pub mod startup;
pub mod threads;
pub mod wire;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{
    Bind, Close, Describe, Execute, Sync as PgSync, TARGET_TYPE_BYTE_PORTAL,
};
use pgwire::messages::simplequery::Query;
use pgwire::tokio::TlsAcceptor;
use starbase_protocol::{DbError, SqlState};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::auth::TokenScram;
use self::conn::{PgConn, PgShared};
use self::prepared::{Parser, Prepared};
use self::startup::StartupFlow;

/// What the listener needs to serve.
#[derive(Clone)]
pub struct PgFrontend {
    /// Shared by all connections.
    pub shared: Arc<PgShared>,
    /// Verifiers of the tokens.
    pub scram: TokenScram,
    /// Checks cleartext passwords (tokens and JWTs) and knows the tokens' rate-limit keys.
    pub auth: crate::auth::Authenticator,
    /// TLS for `SSLRequest`; `None` answers `N`.
    pub tls: Option<TlsAcceptor>,
    /// Connections by backend key, for `CancelRequest`.
    pub cancels: Arc<ConnectionManager>,
    /// External PostgreSQL sources reachable by database name.
    pub proxy: Arc<proxy::Proxy>,
}

impl std::fmt::Debug for PgFrontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgFrontend")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Accepts connections until `shutdown`, each on its own task in `tracker`, placed on one
/// of the session threads (`threads`); a shutdown closes the connections (their
/// transactions roll back).
pub async fn serve(
    listener: TcpListener,
    frontend: PgFrontend,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    // Each connection's task holds them: they outlive this loop until the last session ends.
    let threads = match threads::SessionThreads::per_core("starbase-pg") {
        Ok(threads) => Some(Arc::new(threads)),
        Err(e) => {
            tracing::warn!(error = %e, "pgwire session threads did not start; sessions run on the shared runtime");
            None
        }
    };
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a pgwire connection failed");
                continue;
            }
        };
        // Latency matters more than packet count for request/response traffic.
        let _ = socket.set_nodelay(true);
        let (frontend, shutdown) = (frontend.clone(), shutdown.clone());
        match &threads {
            Some(threads) => {
                // Re-registered with the session thread's reactor, which then owns it.
                let socket = match socket.into_std() {
                    Ok(socket) => socket,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "a pgwire connection could not be moved");
                        continue;
                    }
                };
                let threads = Arc::clone(threads);
                tracker.spawn(async move {
                    let session = async move {
                        match tokio::net::TcpStream::from_std(socket) {
                            Ok(socket) => connection_task(socket, peer, frontend, shutdown).await,
                            Err(e) => tracing::warn!(%peer, error = %e, "a pgwire connection could not be moved"),
                        }
                    };
                    threads.run(session).await;
                });
            }
            None => {
                tracker.spawn(connection_task(socket, peer, frontend, shutdown));
            }
        }
    }
}

/// The task serving one accepted connection to its end (or the gateway's shutdown), and
/// releasing what the session held.
async fn connection_task(
    socket: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    frontend: PgFrontend,
    shutdown: CancellationToken,
) {
    let conn = Arc::new(PgConn::new(Arc::clone(&frontend.shared)));
    conn.set_peer(peer.ip());
    let handler = Arc::new(Handler {
        conn: Arc::clone(&conn),
        parser: Arc::new(Parser::new(Arc::clone(&conn))),
    });
    let handlers = connection::Handlers {
        startup: Arc::new(StartupFlow::new(
            Arc::clone(&conn),
            frontend.scram.clone(),
            frontend.auth.clone(),
            Arc::clone(&frontend.cancels),
        )),
        simple: Arc::clone(&handler),
        extended: handler,
        cancel: Arc::new(DefaultCancelHandler::new(Arc::clone(&frontend.cancels))),
    };
    tokio::select! {
        () = shutdown.cancelled() => {}
        result = connection::serve(socket, &frontend, handlers) => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "pgwire connection ended with an error");
            }
        }
    }
    conn.shared.locks.unlock_all(conn.id);
    conn.drop_suspended().await;
}

/// Query handling for one connection.
#[derive(Debug)]
struct Handler {
    conn: Arc<PgConn>,
    parser: Arc<Parser>,
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.conn
            .check_session()
            .map_err(|e| error::wire_error(&e))?;
        simple::on_query(&self.conn, client, &query.query).await
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` answers every Query itself (streaming); nothing calls this.
        Err(error::wire_error(&DbError::new(
            SqlState::INTERNAL_ERROR,
            "unexpected query path",
        )))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.conn
            .check_session()
            .and_then(|()| self.conn.check_rate())
            .map_err(|e| error::wire_error(&e))?;
        extended::on_execute(&self.conn, client, message).await
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        extended::on_bind(client, message).await
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        extended::on_describe(client, message).await
    }

    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        extended::on_sync(&self.conn, client).await
    }

    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        if message.target_type == TARGET_TYPE_BYTE_PORTAL {
            // A suspended portal's statement stops with it.
            self.conn.drop_suspended_named(name).await;
            client.portal_store().rm_portal(name);
        } else {
            client.portal_store().rm_statement(name);
        }
        futures::SinkExt::send(
            client,
            PgWireBackendMessage::CloseComplete(
                pgwire::messages::extendedquery::CloseComplete::new(),
            ),
        )
        .await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        _portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_execute` runs every portal itself (streaming, suspended portals).
        Err(error::wire_error(&DbError::new(
            SqlState::INTERNAL_ERROR,
            "unexpected execute path",
        )))
    }
}
