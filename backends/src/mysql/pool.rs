//! The MySQL/MariaDB connection pool.
//!
//! Owns building the mysql_async pool from a `ServerConfig` (lazy: nothing connects until
//! the first request; `Prefer` keeps a TLS pool and a plain one, switching for good when the
//! server turns out to have no TLS), the semaphore that turns "every connection is in use" into `53300`
//! after the acquire timeout, the connect timeout (`08006`), the session setup every new
//! connection runs (`time_zone = '+00:00'`, found rows reported as affected), and
//! `MySqlConn`, one checked-out connection. Must not know about plans or streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::{DriverError, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, SslOpts};
use starbase_protocol::{DbError, SqlState};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{Phase, connection, from_mysql};
use crate::external::Tasks;
use crate::external::config::{ServerConfig, TCP_KEEPALIVE_IDLE, TlsMode};

/// A pool and the options its connections use.
#[derive(Debug)]
pub(super) struct Route {
    pub(super) pool: Pool,
    pub(super) opts: Opts,
}

impl Route {
    fn new(opts: Opts) -> Self {
        Self {
            pool: Pool::new(opts.clone()),
            opts,
        }
    }
}

/// What every plan task of one backend shares.
#[derive(Debug)]
pub(super) struct Shared {
    /// TLS for `Require` and `Prefer`, plain TCP for `Disable`.
    pub(super) primary: Route,
    /// `Prefer`: plain TCP, used once the server refused TLS.
    pub(super) fallback: Option<Route>,
    tls_refused: AtomicBool,
    pub(super) slots: Arc<Semaphore>,
    pub(super) address: String,
    pub(super) connect_timeout: Duration,
    pub(super) acquire_timeout: Duration,
    pub(super) tasks: Tasks,
}

/// The pool and its tasks; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct MySqlSource(pub(super) Arc<Shared>);

impl Shared {
    /// Where connections come from now.
    pub(super) fn route(&self) -> &Route {
        match &self.fallback {
            Some(plain) if self.tls_refused.load(Ordering::Relaxed) => plain,
            _ => &self.primary,
        }
    }

    /// A connection, falling back to plain TCP (for good) when `Prefer` meets a server
    /// without TLS.
    async fn connect(&self) -> Result<mysql_async::Conn, DbError> {
        let timeout = self.connect_timeout;
        let attempt = |route: &Route| tokio::time::timeout(timeout, route.pool.get_conn());
        let result = match (attempt(self.route()).await, &self.fallback) {
            (
                Ok(Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer))),
                Some(plain),
            ) => {
                tracing::info!(address = %self.address, "MySQL server has no TLS; connecting without");
                self.tls_refused.store(true, Ordering::Relaxed);
                attempt(plain).await
            }
            (result, _) => result,
        };
        result
            .map_err(|_| connection(&self.address, Phase::Connect, "connect timeout"))?
            .map_err(|e| from_mysql(&e, &self.address, Phase::Connect))
    }
}

/// The connection options for `config`, with or without TLS.
fn opts(config: &ServerConfig, tls: TlsMode) -> Result<Opts, DbError> {
    let size = config.pool_size();
    let constraints = PoolConstraints::new(0, size)
        .ok_or_else(|| DbError::invalid_parameter("invalid MySQL pool size"))?;
    let mut builder = OptsBuilder::default()
        .ip_or_hostname(config.host.clone())
        .tcp_port(config.port)
        .user(Some(config.user.clone()))
        .db_name(Some(config.database.clone()))
        .prefer_socket(false)
        .tcp_keepalive(Some(TCP_KEEPALIVE_IDLE))
        // Rows matched, not rows changed: what PostgreSQL and SQLite report for UPDATE.
        .client_found_rows(true)
        .init(vec!["SET time_zone = '+00:00'"])
        .pool_opts(PoolOpts::default().with_constraints(constraints));
    if !config.password.is_empty() {
        builder = builder.pass(Some(config.password.expose().to_owned()));
    }
    builder = match tls {
        TlsMode::Disable => builder,
        TlsMode::Require => builder.ssl_opts(Some(SslOpts::default())),
        // Encryption without certificate verification, as libpq's `sslmode=prefer`.
        TlsMode::Prefer => builder.ssl_opts(Some(
            SslOpts::default().with_danger_accept_invalid_certs(true),
        )),
    };
    Ok(Opts::from(builder))
}

impl MySqlSource {
    /// Builds the pool without connecting.
    ///
    /// # Errors
    /// `22023` for an invalid configuration.
    pub(super) fn new(config: &ServerConfig) -> Result<Self, DbError> {
        let (primary, fallback) = match config.tls {
            TlsMode::Disable => (Route::new(opts(config, TlsMode::Disable)?), None),
            TlsMode::Require => (Route::new(opts(config, TlsMode::Require)?), None),
            TlsMode::Prefer => (
                Route::new(opts(config, TlsMode::Prefer)?),
                Some(Route::new(opts(config, TlsMode::Disable)?)),
            ),
        };
        Ok(Self(Arc::new(Shared {
            primary,
            fallback,
            tls_refused: AtomicBool::new(false),
            slots: Arc::new(Semaphore::new(config.pool_size())),
            address: config.address(),
            connect_timeout: config.connect_timeout,
            acquire_timeout: config.acquire_timeout,
            tasks: Tasks::default(),
        })))
    }

    /// A connection from the pool.
    ///
    /// # Errors
    /// `53300` after the acquire timeout, `08006` when the server cannot be reached in time.
    pub(super) async fn get(&self) -> Result<MySqlConn, DbError> {
        let shared = &self.0;
        let permit = tokio::time::timeout(
            shared.acquire_timeout,
            Arc::clone(&shared.slots).acquire_owned(),
        )
        .await
        .map_err(|_| {
            DbError::new(
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "no free connection to the MySQL server at {}",
                    shared.address
                ),
            )
            .with_hint("raise the pool size or the acquire timeout")
        })?
        .map_err(|_| DbError::new(SqlState::ADMIN_SHUTDOWN, "the pool is closed"))?;
        let conn = shared.connect().await?;
        Ok(MySqlConn {
            id: conn.id(),
            conn: Some(conn),
            shared: Arc::clone(shared),
            broken: false,
            _permit: permit,
        })
    }
}

/// One checked-out connection.
#[derive(Debug)]
pub(crate) struct MySqlConn {
    /// Always `Some` until the connection is closed.
    pub(super) conn: Option<mysql_async::Conn>,
    pub(super) id: u32,
    pub(super) shared: Arc<Shared>,
    /// Set when a statement failed because the connection broke.
    pub(super) broken: bool,
    _permit: OwnedSemaphorePermit,
}

impl MySqlConn {
    /// The driver connection.
    pub(super) fn conn(&mut self) -> Result<&mut mysql_async::Conn, DbError> {
        let address = self.shared.address.clone();
        self.conn
            .as_mut()
            .ok_or_else(|| connection(&address, Phase::Run, "connection closed"))
    }

    /// Maps a driver error, recording a broken connection.
    pub(super) fn fail(&mut self, err: &mysql_async::Error) -> DbError {
        let e = from_mysql(err, &self.shared.address, Phase::Run);
        if e.code == SqlState::CONNECTION_FAILURE {
            self.broken = true;
        }
        e
    }
}
