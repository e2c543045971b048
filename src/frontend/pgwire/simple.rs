//! The simple query protocol: one `Query` message, possibly several statements, each
//! answered in order with its rows and `CommandComplete`; the first error stops the rest,
//! and `ReadyForQuery` reports the session's real `I`/`T`/`E`.
//!
//! Owns running a client text: translation (a text of a known shape reuses its shape's
//! translation, its literals bound as parameters: see `shapes`), `SET`/`SHOW` (answered by the gateway), runs
//! of statements for SQLite (sent as one text, so PostgreSQL's implicit transaction over a
//! multi-statement query holds), streaming their rows (types settled on the first row), and
//! cancellation. Must not know the extended protocol's portals.

use std::fmt::Debug;
use std::sync::Arc;

use futures::channel::oneshot;
use futures::{Sink, SinkExt};
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery};
use starbase_backends::{BackendKind, Event, TxnState};
use starbase_protocol::{DbError, ExecMode, SqlState, Value};

use super::commands;
use super::conn::PgConn;
use super::describe::{ResultColumn, data_row, result_columns, row_description, settle_types};
use super::dialect::{self, PgStatement, Shape, Translated};
use super::wire::{cancel_receiver, cancelled, send_complete, send_error, socket, status_of};

/// Answers one `Query` message completely, `ReadyForQuery` included.
///
/// # Errors
/// Only socket failures; statement errors are sent to the client.
pub async fn on_query<C>(conn: &PgConn, client: &mut C, sql: &str) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
        return Err(PgWireError::NotReadyForQuery);
    }
    client.set_state(PgWireConnectionState::QueryInProgress);
    let mut cancel = cancel_receiver(client).await;
    // A query over a rate limit is not run; like a statement error it leaves the session's
    // transaction as it was, and `ReadyForQuery` says so.
    let ran = match conn.check_rate() {
        Ok(()) => run(conn, client, sql, &mut cancel).await,
        Err(e) => Err(e),
    };
    if let Err(e) = ran {
        send_error(client, &e).await?;
    }
    let state = commands::after_statement(conn, client).await?;
    let status = status_of(state);
    client.set_state(PgWireConnectionState::ReadyForQuery);
    client.set_transaction_status(status);
    client
        .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
            status,
        )))
        .await?;
    Ok(())
}

/// Runs the statements of `sql` in order; the first error is returned (and ends the text).
async fn run<C>(
    conn: &PgConn,
    client: &mut C,
    sql: &str,
    cancel: &mut Option<oneshot::Receiver<()>>,
) -> Result<(), DbError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if let Some((query, shape)) = shaped(conn, client, sql).await {
        let params = shape.values.iter().copied().map(Value::Int).collect();
        return run_queries(conn, client, vec![query], params, cancel)
            .await
            .map_err(|mut e| {
                e.position = e.position.map(|at| shape.original_position(at));
                e
            });
    }
    let statements = commands::translate(conn, client, sql, commands::Inference::TextOnly).await?;
    if matches!(statements.as_slice(), [PgStatement::Empty]) {
        client
            .feed(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ))
            .await
            .map_err(socket)?;
        return Ok(());
    }
    let mut queries: Vec<Translated> = Vec::new();
    for statement in statements {
        match statement {
            PgStatement::Query(q) => queries.push(q),
            PgStatement::Empty => {}
            other => {
                run_queries(
                    conn,
                    client,
                    std::mem::take(&mut queries),
                    Vec::new(),
                    cancel,
                )
                .await?;
                commands::run_command(conn, client, other, true).await?;
            }
        }
    }
    run_queries(conn, client, queries, Vec::new(), cancel).await
}

/// The client's text as its shape's translation with the literals as parameters, when the
/// text has a shape whose translation left it unchanged (see `shapes`); `None` sends it
/// through the full translation.
async fn shaped<C: ClientInfo>(
    conn: &PgConn,
    client: &C,
    sql: &str,
) -> Option<(Translated, Shape)> {
    // A restricted caller's statements are checked as written: binding their literals would
    // change the shape the allowlist compares.
    if conn.kind() != BackendKind::Sqlite || conn.is_restricted() {
        return None;
    }
    let shape = dialect::shape(sql)?;
    let text = &shape.text;
    let translated = match conn.with_shapes(|shapes| shapes.get(text)) {
        Some(known) => known?,
        None => {
            let statements =
                commands::translate(conn, client, text, commands::Inference::TextOnly).await;
            let usable = match statements.as_deref() {
                Ok([PgStatement::Query(t)]) if t.sql == *text => Some(Arc::new(t.clone())),
                _ => None,
            };
            conn.with_shapes(|shapes| shapes.insert(text.clone(), usable.clone()));
            usable?
        }
    };
    Some(((*translated).clone(), shape))
}

/// One run of statements for SQLite, as one text.
async fn run_queries<C>(
    conn: &PgConn,
    client: &mut C,
    queries: Vec<Translated>,
    params: Vec<Value>,
    cancel: &mut Option<oneshot::Receiver<()>>,
) -> Result<(), DbError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if queries.is_empty() {
        return Ok(());
    }
    let text = queries
        .iter()
        .map(|q| q.sql.as_str())
        .collect::<Vec<_>>()
        .join(";\n");
    let mut stream = conn
        .execute(PgConn::plan(&text, params, ExecMode::Single))
        .await?;
    let mut out = Output {
        queries: &queries,
        index: 0,
        columns: None,
        described: false,
        rows: 0,
    };
    loop {
        let event = tokio::select! {
            event = stream.recv() => event,
            () = cancelled(cancel) => {
                drop(stream);
                return Err(DbError::new(SqlState::QUERY_CANCELED, "canceling statement due to user request"));
            }
        };
        match event {
            None => return Err(DbError::internal("the database stopped answering")),
            Some(Err(e)) => return Err(e.to_db_error()),
            Some(Ok(Event::Finished)) => return Ok(()),
            Some(Ok(event)) => out.event(client, event).await?,
        }
    }
}

/// Where a run of statements stands while its events arrive.
struct Output<'q> {
    queries: &'q [Translated],
    index: usize,
    columns: Option<Vec<ResultColumn>>,
    described: bool,
    rows: u64,
}

impl Output<'_> {
    async fn event<C>(&mut self, client: &mut C, event: Event) -> Result<(), DbError>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<C::Error>,
    {
        match event {
            Event::Columns(cols) => {
                let query = self.queries.get(self.index);
                let inferred = query.map_or(&[][..], |q| &q.columns);
                let sql = query.map_or("", |q| q.sql.as_str());
                self.columns = (!cols.is_empty()).then(|| result_columns(sql, &cols, inferred));
                self.described = false;
                self.rows = 0;
            }
            Event::Rows(batch) => {
                self.describe(client, batch.first()).await?;
                if let Some(columns) = &self.columns {
                    for row in &batch {
                        let row = data_row(row, columns)?;
                        client
                            .feed(PgWireBackendMessage::DataRow(row))
                            .await
                            .map_err(socket)?;
                    }
                }
                self.rows += batch.len() as u64;
            }
            Event::Done(summary) => {
                self.describe(client, None).await?;
                let (tag, counts) = self
                    .queries
                    .get(self.index)
                    .map_or(("SELECT", true), |q| (q.tag.as_str(), q.tag_counts_rows));
                send_complete(client, tag, counts, self.rows, Some(summary))
                    .await
                    .map_err(socket::<PgWireError>)?;
                self.index += 1;
                self.columns = None;
            }
            Event::Step(_) | Event::Finished => {}
        }
        Ok(())
    }

    /// Sends the `RowDescription` once per statement, types settled by its first row.
    async fn describe<C>(
        &mut self,
        client: &mut C,
        first: Option<&Vec<Value>>,
    ) -> Result<(), DbError>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<C::Error>,
    {
        if self.described {
            return Ok(());
        }
        self.described = true;
        if let Some(columns) = &mut self.columns {
            settle_types(columns, first);
            client
                .feed(PgWireBackendMessage::RowDescription(row_description(
                    columns,
                )))
                .await
                .map_err(socket)?;
        }
        Ok(())
    }
}

/// Whether a session state refuses everything but ending the transaction.
#[must_use]
pub fn is_failed(state: TxnState) -> bool {
    state == TxnState::Failed
}
