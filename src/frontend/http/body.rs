//! Reading request bodies: content-type check, size limit, JSON decoding.
//!
//! Owns turning an HTTP body into a `serde_json::Value` without ever buffering more than the
//! configured maximum. Must not know what the JSON means.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use starbase_protocol::{DbError, SqlState};

use super::error::ApiError;

/// Reads a JSON body of at most `max_bytes`.
///
/// # Errors
/// 415/`08P01` for a content type other than JSON, 413/`54000` for a body over the limit,
/// 400/`22P02` for malformed JSON, 400/`08P01` when the body cannot be read.
pub(super) async fn read_json(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
) -> Result<serde_json::Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .contains("application/json")
    {
        return Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DbError::protocol_violation(format!(
                "Content-Type must be application/json, got \"{content_type}\""
            )),
        ));
    }
    let bytes = read_limited(headers, body, max_bytes).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(DbError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("malformed JSON body: {e}"),
        ))
    })
}

/// Reads a body of at most `max_bytes`, refusing early when `Content-Length` says it is larger.
///
/// # Errors
/// 413/`54000` over the limit, 400/`08P01` when the body stream fails.
pub(super) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || {
        ApiError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            DbError::limit_exceeded(format!(
                "request body exceeds the maximum of {max_bytes} bytes"
            ))
            .with_hint("raise max_request_bytes, or split the request"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, max_bytes).await.map_err(|e| {
        let is_limit = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if is_limit {
            too_large()
        } else {
            ApiError::new(DbError::protocol_violation(format!(
                "could not read request body: {e}"
            )))
        }
    })
}
