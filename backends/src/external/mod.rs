//! What the PostgreSQL and MySQL backends share: configuration, TLS, the placeholder lexer,
//! the plan runner, the plan task and sessions.
//!
//! Owns everything about running a plan on a pooled network connection that does not depend
//! on the driver; each driver implements `conn::Conn` and `conn::Source`. Must not know any
//! driver type or any frontend.
//!
//! Layout:
//! - [`config`]: `ServerConfig`, `Secret`, `TlsMode`;
//! - `tls`: the rustls client configuration;
//! - `lex`: statement boundaries and placeholder rewriting;
//! - `conn`: the traits a driver implements; `out`: the producing side of a stream;
//! - `run`: plan modes and transaction rules; `task`: the task that owns a plan's
//!   connection; `session`: sessions pinning a connection during a transaction.

pub mod config;
pub(crate) mod conn;
pub(crate) mod lex;
pub(crate) mod out;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod task;
#[cfg(feature = "postgres")]
pub(crate) mod tls;

pub(crate) use task::Tasks;

/// Options for one `execute` call (the same type as SQLite's when that backend is built).
#[cfg(not(feature = "sqlite"))]
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// Cancel the plan with `57014` once it has run this long. `None` or zero: no limit.
    pub statement_timeout: Option<std::time::Duration>,
}

#[cfg(feature = "sqlite")]
pub use crate::sqlite::ExecOptions;

/// How a session behaves (the same type as SQLite's when that backend is built).
#[cfg(not(feature = "sqlite"))]
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Roll back a transaction (and free its pooled connection) when the session sends
    /// nothing for this long while it is open (default 60 s); the next plan gets `25P03`.
    /// `None` or zero: never.
    pub idle_in_transaction_timeout: Option<std::time::Duration>,
}

#[cfg(not(feature = "sqlite"))]
impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_in_transaction_timeout: Some(session::DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT),
        }
    }
}

#[cfg(feature = "sqlite")]
pub use crate::sqlite::SessionConfig;
