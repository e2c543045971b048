//! Table exports: `GET /export/json/{table}` and `GET /export/csv/{table}` (spec §5.3),
//! streamed with constant memory.
//!
//! Owns turning a table's result stream into a downloadable body: rows are encoded batch by
//! batch as the client reads, the SQLite reader waits while the client is slow (bounded
//! channel), and a client that disconnects cancels the query. Exports run without the
//! statement timeout. On an external source the table is looked up in the server's catalog
//! (`external`) and streamed from it the same way. Must not know SQLite beyond the catalog
//! lookup shared with REST.

pub(crate) mod csv;
mod dump;
mod external;
mod external_dump;
pub(super) mod jobs;
pub(crate) mod sql;

pub(super) use dump::handle_export_dump;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use starbase_backends::{Event, ResultStream};
use starbase_protocol::{Column, DbError, ExecMode, Params, Plan, Statement};

use super::AppState;
use super::error::ApiError;
use super::render::{object_keys, write_json};
use super::rest::schema;
use super::source::resolve_source;
use crate::auth::Principal;
use crate::engine::Target;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// `GET /export/json/{table}`: an array of row objects.
pub(super) async fn handle_export_json(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(table): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    export(&state, &principal, &table, &headers, &uri, Format::Json).await
}

/// `GET /export/csv/{table}`: RFC 4180 CSV with a header row (also for an empty table).
pub(super) async fn handle_export_csv(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(table): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    export(&state, &principal, &table, &headers, &uri, Format::Csv).await
}

async fn export(
    state: &AppState,
    principal: &Principal,
    table: &str,
    headers: &HeaderMap,
    uri: &Uri,
    format: Format,
) -> Result<Response, ApiError> {
    let target = resolve_source(&state.engine, headers, uri)?;
    let (name, sql) = match &target {
        Target::Internal => {
            let info = schema::table_or_404(&state.engine, principal, table).await?;
            (
                info.name.clone(),
                format!("SELECT * FROM {}", info.qualified()),
            )
        }
        Target::External(_) => {
            external::select_all(&state.engine, principal, &target, table).await?
        }
    };
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(
            sql,
            state.engine.dialect(&target),
            Params::None,
        )],
    };
    let mut stream = state
        .engine
        .execute_export_on(principal, &target, plan)
        .await?;
    // Wait for the columns, so that an error before any row is still a proper JSON error.
    let columns = loop {
        match stream.recv().await {
            Some(Ok(Event::Columns(columns))) => break columns,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ApiError::new(e.to_db_error())),
            None => return Err(ApiError::new(DbError::internal("the export stopped early"))),
        }
    };
    let (content_type, extension) = match format {
        Format::Json => ("application/json", "json"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let file = format!(
        "{}_export.{extension}",
        name.replace(['"', '\\', '\r', '\n'], "_")
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let body = Body::from_stream(encode(stream, &columns, format));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The body: a header chunk, one chunk per row batch, and a closing chunk.
fn encode(
    stream: ResultStream,
    columns: &[Column],
    format: Format,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let keys = object_keys(columns);
    let mut head = Vec::new();
    match format {
        Format::Json => head.push(b'['),
        Format::Csv => csv::record(&mut head, columns.iter().map(|c| csv::Field::Name(&c.name))),
    }
    let state = Some((stream, keys, 0u64, Some(head)));
    futures::stream::unfold(state, move |state| async move {
        let (mut stream, keys, mut rows_sent, head) = state?;
        if let Some(head) = head {
            return Some((Ok(Bytes::from(head)), Some((stream, keys, rows_sent, None))));
        }
        loop {
            match stream.recv().await {
                Some(Ok(Event::Rows(rows))) => {
                    let mut chunk = Vec::with_capacity(rows.len() * 64);
                    for row in &rows {
                        match format {
                            Format::Json => {
                                chunk.extend_from_slice(if rows_sent == 0 {
                                    b"\n"
                                } else {
                                    b",\n"
                                });
                                chunk.push(b'{');
                                let mut first = true;
                                for (key, value) in keys.iter().zip(row) {
                                    if let Some(key) = key {
                                        if !first {
                                            chunk.push(b',');
                                        }
                                        first = false;
                                        chunk.extend_from_slice(key);
                                        write_json(&mut chunk, value);
                                    }
                                }
                                chunk.push(b'}');
                            }
                            Format::Csv => {
                                csv::record(&mut chunk, row.iter().map(csv::Field::Value))
                            }
                        }
                        rows_sent += 1;
                    }
                    return Some((
                        Ok(Bytes::from(chunk)),
                        Some((stream, keys, rows_sent, None)),
                    ));
                }
                Some(Ok(Event::Finished)) => {
                    let tail: &[u8] = match format {
                        Format::Json if rows_sent == 0 => b"]\n",
                        Format::Json => b"\n]\n",
                        Format::Csv => b"",
                    };
                    return Some((Ok(Bytes::from_static(tail)), None));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "export failed mid-stream");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
                None => {
                    return Some((Err(std::io::Error::other("the export stopped early")), None));
                }
            }
        }
    })
}
