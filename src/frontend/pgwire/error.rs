//! Errors on the wire: a `DbError` as pgwire's `ErrorInfo` (every field PostgreSQL defines
//! that the error carries) and as the `PgWireError` a handler returns.
//!
//! Owns only that conversion. Must not choose SQLSTATEs: they come with the error.

use pgwire::error::{ErrorInfo, PgWireError};
use starbase_protocol::{DbError, Severity};

/// The `ErrorResponse` fields of an error.
#[must_use]
pub fn error_info(error: &DbError) -> ErrorInfo {
    let severity = match error.severity {
        Severity::Error => "ERROR",
        Severity::Fatal => "FATAL",
    };
    let mut info = ErrorInfo::new(
        severity.to_owned(),
        error.code.as_str().to_owned(),
        error.message.clone(),
    );
    info.detail.clone_from(&error.detail);
    info.hint.clone_from(&error.hint);
    info.position = error.position.map(|p| p.to_string());
    info.constraint.clone_from(&error.constraint);
    info
}

/// The error as a handler result.
#[must_use]
pub fn wire_error(error: &DbError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(error)))
}
