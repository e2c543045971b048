//! The extended query protocol: `Execute` (with row limits and suspended portals),
//! `Describe`, `Sync` and `Close`, on top of pgwire's Parse/Bind bookkeeping.
//!
//! Owns running a bound portal: parameter decoding by the prepared types and the Bind's
//! format codes, row streaming with the Bind's result formats, `PortalSuspended` at the
//! row limit (the rest stays in the live stream until the next `Execute`), cancellation,
//! and the transaction state `Sync` reports. Errors are returned to pgwire, which sends
//! them and skips to the next `Sync`, as PostgreSQL does. Must not know the simple protocol.

use std::fmt::Debug;

use futures::channel::oneshot;
use futures::{Sink, SinkExt};
use pgwire::api::portal::Portal;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Execute, PortalSuspended, TARGET_TYPE_BYTE_PORTAL,
};
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery};
use starbase_protocol::{DbError, ExecMode, Params, Plan, SqlState, Value};

use super::commands::{after_statement, run_command_with};
use super::conn::PgConn;
use super::decode::decode_param;
use super::describe::{ResultColumn, apply_formats, data_row, row_description};
use super::dialect::PgStatement;
use super::error::wire_error;
use super::portal::{Cursor, Suspended};
use super::prepared::{Prepared, format_codes};
use super::wire::{cancel_receiver, cancelled, send_complete, socket, status_of};

/// `Execute`.
///
/// # Errors
/// The statement's error (pgwire sends it and waits for `Sync`).
pub async fn on_execute<C>(conn: &PgConn, client: &mut C, message: Execute) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
        return Err(PgWireError::NotReadyForQuery);
    }
    client.set_state(PgWireConnectionState::QueryInProgress);
    let name = message.name.as_deref().unwrap_or(DEFAULT_NAME).to_owned();
    let max_rows = u64::try_from(message.max_rows).unwrap_or(0);
    let mut cancel = cancel_receiver(client).await;
    let result = execute(conn, client, &name, max_rows, &mut cancel).await;
    client.set_state(PgWireConnectionState::ReadyForQuery);
    result.map_err(|e| wire_error(&e))
}

async fn execute<C>(
    conn: &PgConn,
    client: &mut C,
    name: &str,
    max_rows: u64,
    cancel: &mut Option<oneshot::Receiver<()>>,
) -> Result<(), DbError>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if let Some(suspended) = conn.take_suspended(name).await {
        return pump(conn, client, suspended, max_rows, cancel).await;
    }
    let portal = match client.portal_store().get_portal(name) {
        Some(Entry::Value(portal)) => portal,
        Some(Entry::Empty) => {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await
                .map_err(socket)?;
            return Ok(());
        }
        None => {
            return Err(DbError::new(
                SqlState::INVALID_CURSOR_NAME,
                format!("portal \"{}\" does not exist", shown(name)),
            ));
        }
    };
    let prepared = &portal.statement.statement;
    let mut columns = prepared.columns.clone();
    apply_formats(&mut columns, &format_codes(&portal.result_column_format));
    match &prepared.statement {
        PgStatement::Query(t) => {
            let values = bind_values(&portal, prepared)?;
            let plan = match &prepared.run {
                Some(statement) => {
                    let mut statement = statement.clone();
                    if !values.is_empty() {
                        statement.params = Params::Positional(values);
                    }
                    Plan {
                        mode: ExecMode::Single,
                        steps: vec![statement],
                    }
                }
                None => PgConn::plan(&t.sql, values, ExecMode::Single),
            };
            let stream = conn.execute(plan).await?;
            let suspended = Suspended {
                portal: name.to_owned(),
                cursor: Cursor::new(stream),
                columns,
                tag: t.tag.clone(),
                tag_counts_rows: t.tag_counts_rows,
            };
            pump(conn, client, suspended, max_rows, cancel).await
        }
        PgStatement::Empty => {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await
                .map_err(socket)?;
            Ok(())
        }
        PgStatement::AdvisoryParams(call) => {
            let keys = bind_values(&portal, prepared)?
                .iter()
                .map(|v| match v {
                    Value::Int(i) => Some(*i),
                    _ => None,
                })
                .collect::<Option<Vec<i64>>>();
            let advisory = keys.and_then(|k| call.bind(&k)).ok_or_else(|| {
                DbError::invalid_parameter("advisory lock keys must be non-null integers")
            })?;
            let statement = PgStatement::Advisory(advisory);
            run_command_with(conn, client, statement, false, Some(columns)).await
        }
        other => run_command_with(conn, client, other.clone(), false, Some(columns)).await,
    }
}

fn shown(name: &str) -> &str {
    if name == DEFAULT_NAME { "" } else { name }
}

/// The portal's parameters as values of the prepared types.
fn bind_values(portal: &Portal<Prepared>, prepared: &Prepared) -> Result<Vec<Value>, DbError> {
    if portal.parameters.len() != prepared.params.len() {
        return Err(DbError::protocol_violation(format!(
            "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
            portal.parameters.len(),
            shown(&portal.statement.id),
            prepared.params.len()
        )));
    }
    let codes = format_codes(&portal.parameter_format);
    portal
        .parameters
        .iter()
        .zip(&prepared.params)
        .enumerate()
        .map(|(i, (bytes, ty))| {
            let binary = match codes.as_slice() {
                [] => false,
                [one] => *one == 1,
                many => many.get(i) == Some(&1),
            };
            decode_param(bytes.as_deref(), *ty, binary, i + 1)
        })
        .collect()
}

/// Sends up to `max_rows` rows (0: all); at the limit the portal is kept suspended.
async fn pump<C>(
    conn: &PgConn,
    client: &mut C,
    mut portal: Suspended,
    max_rows: u64,
    cancel: &mut Option<oneshot::Receiver<()>>,
) -> Result<(), DbError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let mut sent = 0u64;
    loop {
        if max_rows > 0 && sent == max_rows {
            client
                .feed(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                .await
                .map_err(socket)?;
            conn.keep_suspended(portal).await;
            return Ok(());
        }
        let row = tokio::select! {
            row = portal.cursor.next_row() => row?,
            () = cancelled(cancel) => {
                return Err(DbError::new(SqlState::QUERY_CANCELED, "canceling statement due to user request"));
            }
        };
        let Some(row) = row else {
            let rows = portal.cursor.rows_sent;
            return send_complete(
                client,
                &portal.tag,
                portal.tag_counts_rows,
                rows,
                portal.cursor.summary,
            )
            .await
            .map_err(socket::<PgWireError>);
        };
        client
            .feed(PgWireBackendMessage::DataRow(data_row(
                &row,
                &portal.columns,
            )?))
            .await
            .map_err(socket)?;
        sent += 1;
    }
}

/// `Bind`: the portal is stored (pgwire's bookkeeping) and `BindComplete` queued, not
/// flushed: a pipelining client's Bind/Execute/Sync is answered in one write.
///
/// # Errors
/// `26000` for an unknown statement.
pub async fn on_bind<C>(client: &mut C, message: Bind) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let statement = message.statement_name.as_deref().unwrap_or(DEFAULT_NAME);
    let portal = message.portal_name.as_deref().unwrap_or(DEFAULT_NAME);
    match client.portal_store().get_statement(statement) {
        Some(Entry::Value(stored)) => {
            let bound = Portal::try_new(&message, stored)?;
            client.portal_store().put_portal(std::sync::Arc::new(bound));
        }
        Some(Entry::Empty) => client.portal_store().put_empty_portal(portal),
        None => {
            return Err(missing(
                SqlState::INVALID_SQL_STATEMENT_NAME,
                "prepared statement",
                statement,
            ));
        }
    }
    client
        .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
        .await?;
    Ok(())
}

/// `Describe`: `ParameterDescription` (statements only) then `RowDescription` or `NoData`.
///
/// # Errors
/// `26000`/`34000` for an unknown statement or portal.
pub async fn on_describe<C>(client: &mut C, message: Describe) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
    let (params, columns): (Option<Vec<u32>>, Vec<ResultColumn>) =
        if message.target_type == TARGET_TYPE_BYTE_PORTAL {
            match client.portal_store().get_portal(name) {
                Some(Entry::Value(portal)) => {
                    let mut columns = portal.statement.statement.columns.clone();
                    apply_formats(&mut columns, &format_codes(&portal.result_column_format));
                    (None, columns)
                }
                Some(Entry::Empty) => (None, Vec::new()),
                None => return Err(missing(SqlState::INVALID_CURSOR_NAME, "portal", name)),
            }
        } else {
            match client.portal_store().get_statement(name) {
                Some(Entry::Value(stmt)) => (
                    Some(stmt.statement.params.iter().map(|t| t.oid()).collect()),
                    stmt.statement.columns.clone(),
                ),
                Some(Entry::Empty) => (Some(Vec::new()), Vec::new()),
                None => {
                    return Err(missing(
                        SqlState::INVALID_SQL_STATEMENT_NAME,
                        "prepared statement",
                        name,
                    ));
                }
            }
        };
    if let Some(oids) = params {
        client
            .feed(PgWireBackendMessage::ParameterDescription(
                ParameterDescription::new(oids),
            ))
            .await?;
    }
    let message = if columns.is_empty() {
        PgWireBackendMessage::NoData(NoData::new())
    } else {
        PgWireBackendMessage::RowDescription(row_description(&columns))
    };
    client.send(message).await?;
    Ok(())
}

fn missing(code: SqlState, what: &str, name: &str) -> PgWireError {
    wire_error(&DbError::new(
        code,
        format!("{what} \"{}\" does not exist", shown(name)),
    ))
}

/// `Sync`: ends the implicit transaction's portals and reports the session's real state.
///
/// # Errors
/// When the socket fails.
pub async fn on_sync<C>(conn: &PgConn, client: &mut C) -> PgWireResult<()>
where
    C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::PortalStore: PortalStore<Statement = Prepared>,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    client.portal_store().rm_portal(DEFAULT_NAME);
    let state = after_statement(conn, client).await?;
    if state == starbase_backends::TxnState::Idle {
        // Outside a transaction block a portal does not outlive its implicit transaction.
        conn.drop_suspended().await;
    } else {
        conn.drop_suspended_named(DEFAULT_NAME).await;
    }
    let status = status_of(state);
    client.set_transaction_status(status);
    client
        .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
            status,
        )))
        .await?;
    Ok(())
}
