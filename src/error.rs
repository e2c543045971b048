//! The gateway's error type.
//!
//! Owns `starbase::Error`: backend errors, errors the gateway raises itself (already carrying
//! a SQLSTATE as a `DbError`), and start-up failures. `to_client()` is the only way an error
//! reaches a client; internal details are logged, not sent. Must not know any frontend.

use starbase_protocol::{DbError, SqlState};

use crate::config::ConfigError;

/// An error anywhere in the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From a backend.
    #[error(transparent)]
    Backend(#[from] starbase_backends::Error),
    /// Raised by the gateway with a SQLSTATE (bad request, auth, limits).
    #[error(transparent)]
    Client(#[from] DbError),
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An I/O failure the client cannot act on (binding a listener, reading a file).
    #[error("{context}: {source}")]
    Io {
        /// What the gateway was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what the gateway was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The SQLSTATE of this error.
    #[must_use]
    pub fn sqlstate(&self) -> SqlState {
        match self {
            Error::Backend(e) => e.sqlstate(),
            Error::Client(e) => e.code,
            Error::Config(e) => e.sqlstate(),
            Error::Io { .. } => SqlState::IO_ERROR,
        }
    }

    /// The error as a client may see it; internal details are replaced by a generic message.
    #[must_use]
    pub fn to_client(&self) -> DbError {
        match self {
            Error::Backend(e) => e.to_db_error(),
            Error::Client(e) => e.clone(),
            Error::Config(_) | Error::Io { .. } => {
                tracing::error!(error = %self, "internal error");
                DbError::internal("internal error")
            }
        }
    }
}
