//! The asynchronous dump routes: `POST /export/dump`, `GET /export/dump/status/{key}`,
//! `GET /export/dump/download/{key}.{ext}` (with `Range`) and `POST /export/dump/resume/{key}`.
//!
//! Owns turning requests into `DumpService` calls and answers into HTTP: `202` with the
//! progress key, `429` with `Retry-After` when too many dumps run, `404` for an unknown key,
//! `409` for a dump that is not in the right state, `206`/`416` for ranges. Must not know how
//! dumps are made.

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use starbase_protocol::{DbError, SqlState};

use crate::auth::Principal;
use crate::dump::SubmitError;
use crate::dump::model::DumpRequest;
use crate::frontend::http::AppState;
use crate::frontend::http::error::ApiError;
use crate::frontend::http::source::resolve_source;

/// `POST /export/dump`: starts a dump; `202 {status, progressKey, message}`.
pub(in crate::frontend::http) async fn handle_start_dump(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.engine.check_bulk_route(&principal, "a dump")?;
    let target = resolve_source(&state.engine, &headers, &uri)?;
    let request: DumpRequest = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_str("{}")
    } else {
        serde_json::from_slice(&body)
    }
    .map_err(|e| DbError::invalid_parameter(format!("invalid dump request: {e}")))?;
    let base_url = base_url(&headers);
    match state.dumps.submit(request, target.name(), &base_url).await {
        Ok(key) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "status": "accepted",
                "progressKey": key,
                "message": "Dump process started",
                "statusUrl": format!("/export/dump/status/{key}"),
            })),
        )
            .into_response()),
        Err(e) => Ok(submit_error(e)),
    }
}

/// `POST /export/dump/resume/{key}`: continues a failed dump from its last checkpoint.
pub(in crate::frontend::http) async fn handle_dump_resume(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    state.engine.check_bulk_route(&principal, "a dump")?;
    if let Err(e) = state.dumps.resume(&key).await {
        return Ok(submit_error(e));
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({
            "status": "accepted",
            "progressKey": key,
            "message": "Dump process resumed",
        })),
    )
        .into_response())
}

/// `GET /export/dump/status/{key}`.
pub(in crate::frontend::http) async fn handle_dump_status(
    State(state): State<AppState>,
    Extension(_principal): Extension<Principal>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let status = state.dumps.status(&key).await.map_err(|e| job_error(&e))?;
    Ok(axum::Json(status).into_response())
}

/// Query of the download: `table` picks one table of a CSV or JSON dump.
#[derive(Debug, serde::Deserialize)]
pub(in crate::frontend::http) struct DownloadQuery {
    table: Option<String>,
}

/// `GET /export/dump/download/{key}.{ext}`: the parts joined as one file; `Range` honoured.
pub(in crate::frontend::http) async fn handle_dump_download(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(file): Path<String>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A finished dump holds every row: a restricted client may not fetch one either.
    state
        .engine
        .check_bulk_route(&principal, "a dump download")?;
    let (key, extension) = file.rsplit_once('.').unwrap_or((file.as_str(), ""));
    let download = state
        .dumps
        .download(key, extension, query.table.as_deref())
        .await
        .map_err(|e| job_error(&e))?;
    let format = download.format();
    let total = download.total();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, total));
    let (status, from, to) = match range {
        None | Some(Range::Ignored) => (StatusCode::OK, 0, total),
        Some(Range::Unsatisfiable) => {
            let mut response = ApiError::with_status(
                StatusCode::RANGE_NOT_SATISFIABLE,
                DbError::invalid_parameter(format!(
                    "the range is outside the dump's {total} bytes"
                )),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
        Some(Range::Bytes(a, b)) => (StatusCode::PARTIAL_CONTENT, a, b),
    };
    let name = match &query.table {
        Some(t) => format!(
            "{key}_{}.{extension}",
            t.replace(['"', '\\', '\r', '\n', '/'], "_")
        ),
        None => format!("{key}.{extension}"),
    };
    let mut response = Response::new(Body::from_stream(download.stream(from, to)));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(to - from));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {from}-{}/{total}", to - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

/// A `Range` header, resolved against the length.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Bytes `start..end`.
    Bytes(u64, u64),
    /// Not satisfiable (416).
    Unsatisfiable,
    /// Not a single byte range we serve (multiple ranges, other units): the whole file.
    Ignored,
}

fn parse_range(value: &str, total: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Ignored;
    };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignored;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), _) if start >= total => Range::Unsatisfiable,
        (Ok(start), Ok(end)) if end >= start => Range::Bytes(start, (end + 1).min(total)),
        (Ok(_), Ok(_)) => Range::Ignored,
        (Ok(start), Err(_)) if b.is_empty() => Range::Bytes(start, total),
        (Err(_), Ok(0)) if a.is_empty() => Range::Unsatisfiable,
        (Err(_), Ok(n)) if a.is_empty() => Range::Bytes(total.saturating_sub(n), total),
        _ => Range::Ignored,
    }
}

/// `scheme://host` of the request, for the callback's absolute download URL.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

fn job_error(e: &crate::error::Error) -> ApiError {
    let error = e.to_client();
    let status = match error.code.as_str() {
        "42704" => StatusCode::NOT_FOUND,
        "55000" => StatusCode::CONFLICT,
        _ => return ApiError::new(error),
    };
    ApiError::with_status(status, error)
}

fn submit_error(e: SubmitError) -> Response {
    match e {
        SubmitError::Rejected(e) => job_error(&e).into_response(),
        SubmitError::Busy(seconds) => {
            let error = DbError::new(
                SqlState::TOO_MANY_CONNECTIONS,
                "too many dumps are running; try again later",
            );
            let mut response =
                ApiError::with_status(StatusCode::TOO_MANY_REQUESTS, error).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Bytes(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), Range::Bytes(90, 100));
        assert_eq!(parse_range("bytes=-5", 100), Range::Bytes(95, 100));
        assert_eq!(parse_range("bytes=50-500", 100), Range::Bytes(50, 100));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Ignored);
        assert_eq!(parse_range("items=0-1", 100), Range::Ignored);
    }
}
