//! `GET /export/dump` on an external source: the server's database as a SQL script in its
//! own dialect (PostgreSQL for `psql`, MySQL for the `mariadb`/`mysql` client), streamed.
//!
//! Owns driving a `DumpSource` in dump order (prologue, every `CREATE TABLE`, every table's
//! rows, epilogue) into the response body. The catalog is read and checked before the
//! response starts, so an unsupported object is a proper `0A000` error; after that a
//! failure ends the body early (a truncated script fails to load: it has no `COMMIT`). The
//! producer runs inside the body stream (no task of its own): a client that goes away drops
//! it, which closes the snapshot's connection. Memory holds one batch of rows plus a chunk.
//! Must not know either server's SQL.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use starbase_backends::Error as BackendError;
use starbase_backends::dump::{AnyDump, DumpSink, DumpSource, DumpTable};
use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::config::SourceName;
use crate::frontend::http::AppState;
use crate::frontend::http::error::ApiError;

/// Body chunks are about this big (many small statements are coalesced).
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the producer and the socket.
const CHANNEL_CHUNKS: usize = 4;

/// Writes statements into the body channel in chunks of about `CHUNK_BYTES`.
struct ChannelSink {
    tx: mpsc::Sender<Bytes>,
    buf: String,
}

impl ChannelSink {
    async fn flush(&mut self) -> Result<(), BackendError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.send(chunk).await.map_err(|_| BackendError::Closed)
    }
}

impl DumpSink for ChannelSink {
    async fn write(&mut self, sql: String, _rows: u64) -> Result<(), BackendError> {
        if self.buf.is_empty() {
            self.buf = sql;
        } else {
            self.buf.push_str(&sql);
        }
        if self.buf.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }
}

/// The streamed dump of source `name`.
///
/// # Errors
/// `3D000` for an unknown source, `0A000` naming an object the dump cannot reproduce,
/// `08006`/`53300` when the server cannot be reached, the server's errors.
pub(super) async fn export(
    state: &AppState,
    principal: &Principal,
    name: &SourceName,
) -> Result<Response, ApiError> {
    let backend_error = |e: BackendError| ApiError::new(e.to_db_error());
    let mut dump = state.engine.open_dump(principal, name).await?;
    let tables = dump.tables().await.map_err(backend_error)?;
    let prologue = dump.prologue().await.map_err(backend_error)?;
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let producer = Box::pin(produce(dump, tables, prologue, tx));
    let body = Body::from_stream(futures::stream::unfold(
        (Some(producer), rx),
        |(mut producer, mut rx)| async move {
            loop {
                let Some(running) = producer.as_mut() else {
                    // Done: the rest of the buffered chunks, then the end.
                    return rx.recv().await.map(|c| (Ok(c), (None, rx)));
                };
                tokio::select! {
                    biased;
                    chunk = rx.recv() => {
                        if let Some(chunk) = chunk {
                            return Some((Ok(chunk), (producer, rx)));
                        }
                    }
                    result = running => {
                        producer = None;
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "external dump failed mid-stream");
                            rx.close();
                            return Some((Err(std::io::Error::other(e.to_string())), (None, rx)));
                        }
                    }
                }
            }
        },
    ));
    let file = format!(
        "attachment; filename=\"{}_dump.sql\"",
        name.as_str().replace(['"', '\\'], "_")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/sql; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&file)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response())
}

/// Writes the whole dump into `tx`.
async fn produce(
    mut dump: AnyDump,
    tables: Vec<DumpTable>,
    prologue: String,
    tx: mpsc::Sender<Bytes>,
) -> Result<(), BackendError> {
    let mut sink = ChannelSink {
        tx,
        buf: String::new(),
    };
    sink.write(prologue, 0).await?;
    for table in &tables {
        let ddl = dump.ddl(table).await?;
        sink.write(ddl, 0).await?;
    }
    for table in &tables {
        dump.scan(table, None, None, &mut sink).await?;
    }
    let epilogue = dump.epilogue().await?;
    sink.write(epilogue, 0).await?;
    sink.flush().await?;
    dump.close().await;
    Ok(())
}
