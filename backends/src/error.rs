//! Backend errors: a `DbError` from the database, or a failure of the backend machinery.
//!
//! Owns `backends::Error`. The SQLSTATE is chosen where the error is created (in each
//! backend's error mapping), never by string matching in a frontend.

use starbase_protocol::{DbError, SqlState};

/// An error from a backend.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The database rejected the statement; already mapped to a SQLSTATE.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The backend's worker is gone (shutting down or crashed).
    #[error("database backend is not available")]
    Closed,
}

impl Error {
    /// The SQLSTATE of this error.
    #[must_use]
    pub fn sqlstate(&self) -> SqlState {
        match self {
            Error::Db(e) => e.code,
            Error::Closed => SqlState::ADMIN_SHUTDOWN,
        }
    }

    /// The client-facing form of this error.
    #[must_use]
    pub fn to_db_error(&self) -> DbError {
        match self {
            Error::Db(e) => e.clone(),
            Error::Closed => DbError::new(self.sqlstate(), self.to_string()),
        }
    }
}
