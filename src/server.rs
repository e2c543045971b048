//! Binds the listeners, builds the shared state, serves until shutdown, then drains.
//!
//! Owns the process lifecycle: listeners are bound before anything is spawned (so tests can
//! use port 0 and read the address), every task is owned, and shutdown stops accepting,
//! finishes in-flight requests and stops the database threads. Must not know request details.

use std::net::SocketAddr;
use std::time::Duration;

use starbase_backends::sqlite::{SessionConfig, SqliteBackend, SqliteConfig};
use starbase_protocol::DbError;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Authenticator, JwtVerifier};
use crate::config::Config;
use crate::config::SourceKind;
use crate::engine::{Engine, Sources};
use crate::error::Error;
use crate::frontend::http::{self, AppState, HttpLimits, render::ResponseLimits};
use crate::frontend::pgwire::{self as pg, PgFrontend, auth::TokenScram, conn::PgShared};
use crate::limit::RateLimiter;
use crate::tls::{TlsConfigs, TlsListener};

/// File name of the embedded database inside the data directory.
pub const DATABASE_FILE: &str = "starbase.sqlite";

/// The HTTPS side of the TLS configuration.
struct HttpsAcceptor(tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for HttpsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpsAcceptor")
    }
}

/// A gateway with its listeners bound, ready to serve.
#[derive(Debug)]
pub struct Server {
    http_listener: TcpListener,
    http_addr: SocketAddr,
    pg_listener: TcpListener,
    pg_addr: SocketAddr,
    pg: PgFrontend,
    https: Option<HttpsAcceptor>,
    state: AppState,
}

impl Server {
    /// Opens the database and binds the listeners; nothing is served until [`Server::serve`].
    ///
    /// # Errors
    /// `58030` when the data directory, database or a listener cannot be opened; `22023`
    /// when no admin token is configured (call `config::ensure_admin_token` first) or a
    /// source's pool settings are invalid; `08001` when a source's TLS cannot be set up.
    /// External sources are not connected here: one that is down does not stop start-up.
    pub async fn bind(config: &Config) -> Result<Self, Error> {
        let admin = config
            .admin_token
            .clone()
            .ok_or_else(|| DbError::invalid_parameter("no admin token configured"))?;
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .map_err(|e| {
                Error::io(
                    format!("creating data directory {}", config.data_dir.display()),
                    e,
                )
            })?;
        // Lazily: a source that is down fails its requests (08006), not the start-up.
        let sources = Sources::connect(&config.sources)?;
        let sqlite_config = SqliteConfig {
            path: config.data_dir.join(DATABASE_FILE),
            readers: config.sqlite_readers,
            busy_timeout: Duration::from_secs(5),
        };
        // Opening runs SQLite (WAL setup, recovery): keep it off the async workers.
        let sqlite = tokio::task::spawn_blocking(move || SqliteBackend::open(sqlite_config))
            .await
            .map_err(|e| Error::io("opening the database", std::io::Error::other(e)))??;
        let meta = crate::meta::MetaDb::open(&config.data_dir).await?;
        let http_listener = TcpListener::bind(config.http_listen)
            .await
            .map_err(|e| Error::io(format!("binding HTTP listener {}", config.http_listen), e))?;
        let http_addr = http_listener
            .local_addr()
            .map_err(|e| Error::io("reading HTTP listener address", e))?;
        let pg_listener = TcpListener::bind(config.pg_listen).await.map_err(|e| {
            Error::io(
                format!("binding PostgreSQL-wire listener {}", config.pg_listen),
                e,
            )
        })?;
        let pg_addr = pg_listener
            .local_addr()
            .map_err(|e| Error::io("reading PostgreSQL-wire listener address", e))?;
        let guard = crate::security::Guard::open(
            crate::security::GuardConfig {
                allowlist: config.enable_allowlist,
                rls: config.enable_rls,
            },
            meta.clone(),
        )
        .await?;
        let engine = Engine::with_sources(sqlite, sources, config.statement_timeout)
            .with_guard(std::sync::Arc::new(guard));
        let dumps = crate::dump::DumpService::open(config, engine.clone(), meta.clone()).await?;
        let client_token = config.client_token.as_ref().map(|t| t.expose().to_owned());
        let admin_token = admin.expose().to_owned();
        // PBKDF2 is slow by design: derive the SCRAM verifiers off the async workers.
        let scram = tokio::task::spawn_blocking(move || {
            TokenScram::new(&admin_token, client_token.as_deref())
        })
        .await
        .map_err(|e| Error::io("deriving SCRAM verifiers", std::io::Error::other(e)))?;
        let tls = match config.tls.clone() {
            Some(files) => Some(
                tokio::task::spawn_blocking(move || TlsConfigs::load(&files))
                    .await
                    .map_err(|e| Error::io("loading TLS files", std::io::Error::other(e)))??,
            ),
            None => None,
        };
        let mut shared = PgShared::new(
            engine.clone(),
            SessionConfig {
                idle_in_transaction_timeout: config.idle_in_transaction_timeout,
            },
        );
        shared.sources = wire_sources(config, &engine);
        let rate_limits = std::sync::Arc::new(RateLimiter::new(&config.rate_limits));
        shared.rate_limits = std::sync::Arc::clone(&rate_limits);
        let auth = authenticator(config, admin).await?;
        let pg = PgFrontend {
            shared: std::sync::Arc::new(shared),
            scram,
            auth: auth.clone(),
            tls: tls.as_ref().map(|t| t.pg.clone()),
            cancels: std::sync::Arc::new(pgwire::api::ConnectionManager::new()),
            proxy: std::sync::Arc::new(pg::proxy::Proxy::new(proxy_targets(config))),
        };
        let state = AppState {
            engine,
            meta,
            dumps,
            auth,
            rate_limits,
            limits: HttpLimits {
                max_request_bytes: config.max_request_bytes,
                response: ResponseLimits {
                    max_bytes: config.max_response_bytes,
                    max_rows: config.max_response_rows,
                },
            },
            shutdown: CancellationToken::new(),
        };
        Ok(Self {
            http_listener,
            http_addr,
            pg_listener,
            pg_addr,
            pg,
            https: tls.map(|t| HttpsAcceptor(t.http)),
            state,
        })
    }

    /// The bound HTTP address (useful with port 0).
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Makes these external PostgreSQL servers reachable through the wire proxy by database
    /// name (replacing those from the configuration).
    #[must_use]
    pub fn with_proxy_targets(mut self, targets: Vec<pg::proxy::ProxyTarget>) -> Self {
        self.pg.proxy = std::sync::Arc::new(pg::proxy::Proxy::new(targets));
        self
    }

    /// Serves these backends to pgwire clients whose database is the map's key, through the
    /// gateway's own handlers (statements passed through; for MySQL/MariaDB sources).
    #[must_use]
    pub fn with_wire_sources(
        mut self,
        sources: std::collections::HashMap<String, starbase_backends::AnyBackend>,
    ) -> Self {
        if let Some(shared) = std::sync::Arc::get_mut(&mut self.pg.shared) {
            shared.sources = sources;
        }
        self
    }

    /// The bound PostgreSQL-wire address (useful with port 0).
    #[must_use]
    pub fn pg_addr(&self) -> SocketAddr {
        self.pg_addr
    }

    /// Serves until `shutdown` is cancelled, then drains in-flight requests and stops the
    /// database threads.
    ///
    /// # Errors
    /// `58030` when the HTTP server fails.
    pub async fn serve(mut self, shutdown: CancellationToken) -> Result<(), Error> {
        self.state.shutdown = shutdown.clone();
        let engine = self.state.engine.clone();
        let meta = self.state.meta.clone();
        let dumps = self.state.dumps.clone();
        // Jobs a stop interrupted continue from their last checkpoint.
        if let Err(e) = dumps.resume_unfinished().await {
            tracing::error!(error = %e, "resuming interrupted dumps failed");
        }
        tracing::info!(http = %self.http_addr, pg = %self.pg_addr, "starbase serving");
        let tracker = TaskTracker::new();
        tracker.spawn(pg::serve(
            self.pg_listener,
            self.pg,
            shutdown.clone(),
            tracker.clone(),
        ));
        let app = http::router(self.state);
        let result = match self.https {
            Some(HttpsAcceptor(acceptor)) => {
                let listener =
                    TlsListener::spawn(self.http_listener, acceptor, shutdown.clone(), &tracker)?;
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<http::ClientAddr>(),
                )
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .await
            }
            None => {
                axum::serve(
                    self.http_listener,
                    app.into_make_service_with_connect_info::<http::ClientAddr>(),
                )
                .with_graceful_shutdown(shutdown.clone().cancelled_owned())
                .await
            }
        }
        .map_err(|e| Error::io("serving HTTP", e));
        // An HTTP failure stops the pgwire side too.
        shutdown.cancel();
        tracker.close();
        tracker.wait().await;
        dumps.shutdown().await;
        engine.shutdown().await;
        meta.shutdown().await;
        tracing::info!("starbase stopped");
        result
    }
}

/// The token checks: the admin and client tokens, and JWTs when configured (their key set is
/// loaded now so a wrong endpoint shows in the log at start-up; requests retry it).
async fn authenticator(
    config: &Config,
    admin: crate::config::Secret,
) -> Result<Authenticator, Error> {
    let auth = Authenticator::new(admin, config.client_token.clone());
    let Some(settings) = &config.jwt else {
        return Ok(auth);
    };
    let verifier = std::sync::Arc::new(JwtVerifier::new(settings)?);
    if let Err(e) = verifier.preload().await {
        tracing::warn!(error = %e, "JWT keys not loaded at start-up; requests will retry");
    }
    Ok(auth.with_jwt(verifier))
}

/// The PostgreSQL sources pgwire clients reach through the wire proxy, by source name.
fn proxy_targets(config: &Config) -> Vec<pg::proxy::ProxyTarget> {
    config
        .sources
        .iter()
        .filter(|s| s.kind == SourceKind::Postgres)
        .map(|s| pg::proxy::ProxyTarget {
            name: s.name.as_str().to_owned(),
            host: s.server.host.clone(),
            port: s.server.port,
            user: s.server.user.clone(),
            password: (!s.server.password.is_empty())
                .then(|| s.server.password.expose().to_owned()),
            database: s.server.database.clone(),
            connect_timeout: s.server.connect_timeout,
            // No TLS over a Unix-domain socket (libpq ignores `sslmode` there too).
            tls_required: s.server.tls == starbase_backends::external::config::TlsMode::Require
                && s.server.unix_socket().is_none(),
            pool_size: s.server.pool_size.max(1),
            acquire_timeout: s.server.acquire_timeout,
            pipeline: s.server.pipeline,
        })
        .collect()
}

/// The MySQL sources pgwire clients reach through the gateway's handlers, by source name.
fn wire_sources(
    config: &Config,
    engine: &Engine,
) -> std::collections::HashMap<String, starbase_backends::AnyBackend> {
    engine
        .sources()
        .iter()
        .filter(|(name, _)| {
            config
                .sources
                .iter()
                .any(|s| &s.name == *name && s.kind == SourceKind::MySql)
        })
        .map(|(name, backend)| (name.as_str().to_owned(), backend.clone()))
        .collect()
}
