//! Imports: `POST /import/dump` and `POST /import/csv/{table}` (spec §5.4), streamed into
//! one transaction.
//!
//! Owns the request forms: a raw `text/csv` body (streamed as it arrives), a multipart form
//! whose `file` field holds the CSV (streamed; an optional `columnMapping` field before it),
//! or `application/json` `{"data": "<csv>", "columnMapping": {...}}` (bounded by the request
//! limit). All or nothing: an error names the record and commits nothing. JSON and CSV
//! imports run on the embedded database or an external source (one `engine::ImportTxn`
//! either way); `/import/dump` runs a SQLite script on the embedded database and a script in
//! the server's dialect on an external source (`external_dump`). Must not
//! know SQLite beyond the shared catalog lookup.

mod csv;
mod dump;
mod external_dump;
mod json;
mod json_scan;
mod utf8;

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use starbase_protocol::DbError;

use super::AppState;
use super::body::read_limited;
use super::error::ApiError;

use super::rest::schema::TableInfo;
use super::rest::table_or_404_on;
use super::source::resolve_source;
use crate::auth::Principal;
use crate::engine::Target;

/// `POST /import/csv/{table}`.
pub(super) async fn handle_import_csv(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(table): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let table = import_table(&state, &principal, request.headers(), request.uri(), &table).await?;
    let content_type = content_type(&request);
    let max = state.limits.max_request_bytes;
    let engine = &state.engine;
    let imported = if content_type.starts_with("text/csv") {
        let body = request.into_body().into_data_stream().map(|chunk| {
            chunk.map_err(|e| DbError::protocol_violation(format!("could not read the body: {e}")))
        });
        csv::import(engine, &principal, &table, &HashMap::new(), body, max).await?
    } else if content_type.starts_with("application/json") {
        let headers = request.headers().clone();
        let bytes = read_limited(&headers, request.into_body(), max).await?;
        let (data, mapping) = json_form(&bytes)?;
        let body = futures::stream::iter([Ok(Bytes::from(data))]);
        csv::import(engine, &principal, &table, &mapping, body, max).await?
    } else if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| DbError::protocol_violation(format!("malformed multipart body: {e}")))?;
        let mut mapping = HashMap::new();
        let mut imported = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| DbError::protocol_violation(format!("malformed multipart body: {e}")))?
        {
            match field.name() {
                Some("columnMapping") => {
                    let text = field.text().await.map_err(|e| {
                        DbError::protocol_violation(format!("malformed multipart body: {e}"))
                    })?;
                    mapping = serde_json::from_str(&text).map_err(|e| {
                        DbError::invalid_parameter(format!("invalid \"columnMapping\": {e}"))
                    })?;
                }
                Some("file") if imported.is_none() => {
                    let body = field.map(|chunk| {
                        chunk.map_err(|e| {
                            DbError::protocol_violation(format!("malformed multipart body: {e}"))
                        })
                    });
                    imported =
                        Some(csv::import(engine, &principal, &table, &mapping, body, max).await?);
                }
                _ => {}
            }
        }
        imported.ok_or_else(no_file)?
    } else {
        return Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DbError::protocol_violation(format!(
                "unsupported Content-Type \"{content_type}\": use text/csv, multipart/form-data or application/json"
            )),
        ));
    };
    Ok(imported_response(imported))
}

/// `{"data": "<csv text>", "columnMapping": {"csv header": "column"}}`.
fn json_form(bytes: &[u8]) -> Result<(String, HashMap<String, String>), DbError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Form {
        data: String,
        #[serde(default, rename = "columnMapping")]
        column_mapping: HashMap<String, String>,
    }
    let form: Form = serde_json::from_slice(bytes).map_err(|e| {
        DbError::invalid_parameter(format!(
            "invalid JSON body: expected {{\"data\": \"<csv>\", \"columnMapping\"?: {{…}}}}: {e}"
        ))
    })?;
    Ok((form.data, form.column_mapping))
}

/// `POST /import/dump`: a multipart form whose `sqlFile` field is a `.sql` file.
pub(super) async fn handle_import_dump(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    request: Request,
) -> Result<Response, ApiError> {
    state.engine.check_bulk_route(&principal, "importing")?;
    let target = resolve_source(&state.engine, request.headers(), request.uri())?;
    let content_type = content_type(&request);
    if !content_type.starts_with("multipart/form-data") {
        return Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DbError::protocol_violation("Content-Type must be multipart/form-data"),
        ));
    }
    let malformed = |e: axum::extract::multipart::MultipartError| {
        DbError::protocol_violation(format!("malformed multipart body: {e}"))
    };
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|e| DbError::protocol_violation(format!("malformed multipart body: {e}")))?;
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.name() != Some("sqlFile") {
            continue;
        }
        let is_sql = field
            .file_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".sql"));
        if !is_sql {
            return Err(DbError::invalid_parameter("uploaded file must be a .sql file").into());
        }
        let body = field.map(|chunk| chunk.map_err(malformed));
        let max = state.limits.max_request_bytes;
        let imported = match &target {
            Target::Internal => dump::import(&state.engine, &principal, body, max).await,
            Target::External(name) => {
                external_dump::import(&state.engine, &principal, name, body, max).await
            }
        };
        return match imported {
            Ok(count) => Ok(axum::Json(json!({"result": {
                "message": format!("SQL dump import completed. {count} statements succeeded, 0 failed."),
                "details": [],
            }}))
            .into_response()),
            Err(failure) => Err(dump_failure(failure)),
        };
    }
    Err(
        DbError::invalid_parameter("no SQL file uploaded: expected a multipart field \"sqlFile\"")
            .into(),
    )
}

/// The error response of a failed dump import: the error plus which statement failed.
fn dump_failure(failure: dump::Failure) -> ApiError {
    let Some((index, statement)) = failure.statement else {
        return ApiError::new(failure.error);
    };
    let error = DbError {
        detail: Some(format!(
            "statement {index} failed; the import was rolled back, nothing was committed: {statement}"
        )),
        ..failure.error
    };
    ApiError::new(error)
}

/// `POST /import/json/{table}`: `{"data": [{…}, …], "columnMapping"?: {…}}` as the body or as
/// the multipart field `file`.
pub(super) async fn handle_import_json(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(table): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let table = import_table(&state, &principal, request.headers(), request.uri(), &table).await?;
    let content_type = content_type(&request);
    let max = state.limits.max_request_bytes;
    let imported = if content_type.starts_with("application/json") {
        let body = request.into_body().into_data_stream().map(|chunk| {
            chunk.map_err(|e| DbError::protocol_violation(format!("could not read the body: {e}")))
        });
        json::import(&state.engine, &principal, &table, body, max).await?
    } else if content_type.starts_with("multipart/form-data") {
        let malformed = |e: axum::extract::multipart::MultipartError| {
            DbError::protocol_violation(format!("malformed multipart body: {e}"))
        };
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| DbError::protocol_violation(format!("malformed multipart body: {e}")))?;
        let mut imported = None;
        while let Some(field) = form.next_field().await.map_err(malformed)? {
            if field.name() == Some("file") && imported.is_none() {
                let body = field.map(|chunk| chunk.map_err(malformed));
                imported = Some(json::import(&state.engine, &principal, &table, body, max).await?);
            }
        }
        imported.ok_or_else(no_file)?
    } else {
        return Err(ApiError::with_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DbError::protocol_violation(format!(
                "unsupported Content-Type \"{content_type}\": use application/json or multipart/form-data"
            )),
        ));
    };
    Ok(imported_response(imported))
}

/// The table a JSON or CSV import writes to, on the embedded database or an external source.
async fn import_table(
    state: &AppState,
    principal: &Principal,
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
    table: &str,
) -> Result<TableInfo, ApiError> {
    state.engine.check_bulk_route(principal, "importing")?;
    let target = resolve_source(&state.engine, headers, uri)?;
    table_or_404_on(&state.engine, principal, &target, table).await
}

/// The request's content type, lower-cased (empty when absent).
fn content_type(request: &Request) -> String {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// StarbaseDB's import response; ours is all or nothing, so nothing ever failed.
fn imported_response(imported: u64) -> Response {
    let message =
        format!("Imported {imported} out of {imported} records successfully. 0 records failed.");
    axum::Json(json!({"result": {"message": message, "failedStatements": []}})).into_response()
}

fn no_file() -> DbError {
    DbError::invalid_parameter("no file uploaded: expected a multipart field \"file\"")
}
