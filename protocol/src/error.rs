//! The client-facing error value that every frontend renders.
//!
//! Owns `DbError` (SQLSTATE, severity, message and the optional PostgreSQL-style fields).
//! Must not know how a frontend encodes it (pgwire `ErrorResponse`, JSON body, WS frame).

use crate::sqlstate::SqlState;

/// How bad an error is for the connection that saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The statement failed; the connection stays usable.
    Error,
    /// The connection must be closed after reporting the error.
    Fatal,
}

/// An error as a client sees it: always with a SQLSTATE.
///
/// Messages follow PostgreSQL style: lowercase, no trailing period, identifiers quoted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// The SQLSTATE assigned where the error was created.
    pub code: SqlState,
    /// Whether the connection survives.
    pub severity: Severity,
    /// Primary human-readable message.
    pub message: String,
    /// Optional secondary detail.
    pub detail: Option<String>,
    /// Optional suggestion for the user.
    pub hint: Option<String>,
    /// 1-based character position in the statement text, when known.
    pub position: Option<u32>,
    /// Name of the violated constraint, when known.
    pub constraint: Option<String>,
    /// The schema object the error is about, when the backend says (PostgreSQL's `s`, `t`,
    /// `c` and `d` fields). Boxed: most errors have none, and `DbError` travels in every
    /// `Result`.
    pub object: Option<Box<ErrorObject>>,
}

/// The schema object an error is about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorObject {
    /// Schema name.
    pub schema: Option<String>,
    /// Table name.
    pub table: Option<String>,
    /// Column name.
    pub column: Option<String>,
    /// Data type name.
    pub datatype: Option<String>,
}

impl DbError {
    /// A plain `ERROR`-severity error.
    #[must_use]
    pub fn new(code: SqlState, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            constraint: None,
            object: None,
        }
    }

    /// Adds a detail line.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a hint line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Marks the error as fatal for its connection.
    #[must_use]
    pub fn fatal(mut self) -> Self {
        self.severity = Severity::Fatal;
        self
    }

    /// `22023` invalid parameter value.
    #[must_use]
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(SqlState::INVALID_PARAMETER_VALUE, message)
    }

    /// `08P01` protocol violation.
    #[must_use]
    pub fn protocol_violation(message: impl Into<String>) -> Self {
        Self::new(SqlState::PROTOCOL_VIOLATION, message)
    }

    /// `54000` program limit exceeded.
    #[must_use]
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(SqlState::PROGRAM_LIMIT_EXCEEDED, message)
    }

    /// `XX000` internal error; the message must already be safe to show to clients.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(SqlState::INTERNAL_ERROR, message)
    }
}
