//! Small helpers every handler uses to talk to the client: errors, command completion,
//! `ReadyForQuery` with the session's real transaction state, and the cancel signal.
//!
//! Owns nothing but these conveniences over pgwire's sink. Must not know statements.

use std::fmt::Debug;
use std::sync::Arc;

use futures::channel::oneshot;
use futures::{Sink, SinkExt};
use pgwire::api::{ClientInfo, ConnectionHandle};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{CommandComplete, TransactionStatus};
use pgwire::messages::startup::ParameterStatus;
use starbase_backends::{ExecSummary, TxnState};
use starbase_protocol::DbError;

use super::error::error_info;

/// A failed write to the client, as an error (the connection is going away).
pub fn socket<E>(e: E) -> DbError
where
    PgWireError: From<E>,
{
    DbError::new(
        starbase_protocol::SqlState::CONNECTION_FAILURE,
        format!("writing to the client failed: {}", PgWireError::from(e)),
    )
}

/// PostgreSQL's status byte for a session state.
#[must_use]
pub fn status_of(state: TxnState) -> TransactionStatus {
    match state {
        TxnState::Idle => TransactionStatus::Idle,
        TxnState::InTransaction => TransactionStatus::Transaction,
        TxnState::Failed => TransactionStatus::Error,
    }
}

/// Queues an `ErrorResponse`.
///
/// # Errors
/// When the socket fails.
pub async fn send_error<C>(client: &mut C, error: &DbError) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    client
        .feed(PgWireBackendMessage::ErrorResponse(
            error_info(error).into(),
        ))
        .await?;
    Ok(())
}

/// Queues a `CommandComplete` for `tag`, with the row count when the tag takes one.
///
/// # Errors
/// When the socket fails.
pub async fn send_complete<C>(
    client: &mut C,
    tag: &str,
    counts_rows: bool,
    rows_sent: u64,
    summary: Option<ExecSummary>,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let text = if counts_rows {
        let count = if tag == "SELECT" {
            rows_sent
        } else {
            summary.map_or(rows_sent, |s| s.rows_written.max(rows_sent))
        };
        format!("{tag} {count}")
    } else {
        tag.to_owned()
    };
    client
        .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
            text,
        )))
        .await?;
    Ok(())
}

/// Queues `ParameterStatus` messages.
///
/// # Errors
/// When the socket fails.
pub async fn send_parameters<C>(client: &mut C, params: Vec<(String, String)>) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    for (name, value) in params {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await?;
    }
    Ok(())
}

/// Arms the connection's cancel handle for the query starting now (a `CancelRequest` with
/// this connection's key fires the receiver).
pub async fn cancel_receiver<C: ClientInfo>(client: &C) -> Option<oneshot::Receiver<()>> {
    let handle = client.session_extensions().get::<Arc<ConnectionHandle>>()?;
    Some(handle.start_query().await)
}

/// Resolves when the cancel receiver fires; never when there is none (or its sender is
/// gone, which only means no cancel can come any more).
pub async fn cancelled(rx: &mut Option<oneshot::Receiver<()>>) {
    match rx {
        Some(receiver) => {
            if receiver.await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
