//! The PostgreSQL connection pool.
//!
//! Owns building the deadpool-postgres pool from a `ServerConfig` (lazy: nothing connects
//! until the first request, so a server that is down only fails requests, with `08006`), to
//! a host or to a Unix-domain socket in a directory, TLS through tokio-postgres-rustls (never
//! over a socket), and `PgConn`, one checked-out connection with its cancel handle. Must not
//! know about plans or streams.

use std::sync::Arc;

use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use starbase_protocol::{DbError, SqlState};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::{from_pg, from_pool};
use crate::external::Tasks;
use crate::external::config::{ServerConfig, TCP_KEEPALIVE_IDLE, TlsMode};
use crate::external::tls;

/// What every plan task of one backend shares.
pub(super) struct Shared {
    pub(super) pool: Pool,
    /// The pool's connection settings, for connections of their own.
    pub(super) config: tokio_postgres::Config,
    pub(super) tls: MakeRustlsConnect,
    pub(super) address: String,
    pub(super) tasks: Tasks,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("pool", &self.pool.status())
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// The pool and its tasks; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct PgSource(pub(super) Arc<Shared>);

impl PgSource {
    /// Builds the pool without connecting.
    ///
    /// # Errors
    /// `08001` when TLS cannot be set up, `22023` for an invalid configuration.
    pub(super) fn new(config: &ServerConfig) -> Result<Self, DbError> {
        let mut pg = tokio_postgres::Config::new();
        // tokio-postgres, as libpq, takes a host that starts with `/` for the directory of
        // the server's Unix-domain socket (`<dir>/.s.PGSQL.<port>`); keepalives are TCP's.
        pg.host(&config.host)
            .port(config.port)
            .user(&config.user)
            .dbname(&config.database)
            .connect_timeout(config.connect_timeout)
            .application_name("starbase")
            .keepalives(true)
            .keepalives_idle(TCP_KEEPALIVE_IDLE)
            .ssl_mode(ssl_mode(config));
        if !config.password.is_empty() {
            pg.password(config.password.expose());
        }
        if let Some(path) = &config.search_path {
            // Startup options are space-separated; a backslash escapes a space.
            pg.options(format!("-c search_path={}", path.replace(' ', "\\ ")));
        }
        let tls = MakeRustlsConnect::new(tls::client_config(config.tls)?);
        let manager = Manager::from_config(
            pg.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size())
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::invalid_parameter(format!("invalid PostgreSQL pool: {e}")))?;
        Ok(Self(Arc::new(Shared {
            pool,
            config: pg,
            tls,
            address: config.address(),
            tasks: Tasks::default(),
        })))
    }

    /// A connection from the pool.
    ///
    /// # Errors
    /// `53300` after the acquire timeout, `08006` when the server cannot be reached.
    pub(super) async fn get(&self) -> Result<PgConn, DbError> {
        let obj = self
            .0
            .pool
            .get()
            .await
            .map_err(|e| from_pool(&e, &self.0.address))?;
        Ok(PgConn {
            obj,
            shared: Arc::clone(&self.0),
            broken: false,
        })
    }
}

impl PgSource {
    /// A connection of its own, outside the pool, with the pool's settings; its I/O task
    /// runs on the calling runtime and ends when the connection is dropped.
    ///
    /// # Errors
    /// `08006` when the server cannot be reached, `08001`/`28000`… as it answers.
    pub(super) async fn connect_own(&self) -> Result<ClientWrapper, DbError> {
        let (client, connection) = self
            .0
            .config
            .connect(self.0.tls.clone())
            .await
            .map_err(|e| from_pg(&e, &self.0.address))?;
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a PostgreSQL connection of its own ended");
            }
        });
        // The wrapper aborts the task when dropped.
        Ok(ClientWrapper::new(client, task))
    }
}

/// The source's TLS mode; none over a Unix-domain socket, where the server refuses TLS and
/// libpq ignores `sslmode`.
fn ssl_mode(config: &ServerConfig) -> SslMode {
    if config.unix_socket().is_some() {
        return SslMode::Disable;
    }
    match config.tls {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        TlsMode::Require => SslMode::Require,
    }
}

/// One checked-out connection.
#[derive(Debug)]
pub(crate) struct PgConn {
    pub(super) obj: Object,
    pub(super) shared: Arc<Shared>,
    /// Set when a statement failed because the connection broke.
    pub(super) broken: bool,
}

impl PgConn {
    /// Records a connection failure so the connection is not pooled again.
    pub(super) fn note(&mut self, error: &DbError) {
        if error.code == SqlState::CONNECTION_FAILURE || self.obj.is_closed() {
            self.broken = true;
        }
    }
}
