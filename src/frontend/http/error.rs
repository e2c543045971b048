//! HTTP error responses: a `DbError` rendered as StarbaseDB's `{"error": …}` body, plus the
//! SQLSTATE and PostgreSQL-style fields (`code`, `detail`, `hint`, `position`, `constraint`).
//!
//! Owns the status choice (from the SQLSTATE class, or an explicit HTTP status such as 413).
//! Must not know how the error arose.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use starbase_protocol::DbError;

use crate::error::Error;

/// An error on its way to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: DbError,
}

impl ApiError {
    /// An error whose status follows from its SQLSTATE.
    #[must_use]
    pub fn new(error: DbError) -> Self {
        let status = StatusCode::from_u16(error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, error }
    }

    /// An error with an explicit HTTP status (404 for unknown routes, 413 for large bodies …).
    #[must_use]
    pub fn with_status(status: StatusCode, error: DbError) -> Self {
        Self { status, error }
    }

    /// The client-facing error.
    #[must_use]
    pub fn error(&self) -> &DbError {
        &self.error
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        Self::new(error)
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::new(error.to_client())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraint: Option<&'a str>,
}

/// Serialises an error body; shared by HTTP responses and (later) WebSocket frames.
#[must_use]
pub fn error_body(error: &DbError) -> Vec<u8> {
    let body = Body {
        error: &error.message,
        code: error.code.as_str(),
        detail: error.detail.as_deref(),
        hint: error.hint.as_deref(),
        position: error.position,
        constraint: error.constraint.as_deref(),
    };
    serde_json::to_vec(&body)
        .unwrap_or_else(|_| br#"{"error":"internal error","code":"XX000"}"#.to_vec())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = %self.error.code, error = %self.error, "request failed");
        } else {
            tracing::debug!(code = %self.error.code, error = %self.error, "request rejected");
        }
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            error_body(&self.error),
        )
            .into_response()
    }
}
