//! What the gateway answers itself rather than SQLite: `SET`, `RESET`, `SHOW` and advisory
//! locks; plus what happens around every statement (translation with the session's
//! context, `SET LOCAL` undone when a transaction ends).
//!
//! Owns those commands for both query protocols. In a failed transaction they are refused
//! with `25P02`, as PostgreSQL refuses everything but ending the transaction. Must not know
//! portals or row streaming.

use std::fmt::Debug;

use futures::{Sink, SinkExt};
use pgwire::api::ClientInfo;
use pgwire::error::PgWireError;
use pgwire::messages::PgWireBackendMessage;
use starbase_backends::{BackendKind, TxnState};
use starbase_protocol::{DbError, PgType, SqlState, Value};

use super::conn::PgConn;
use super::describe::{ResultColumn, data_row, row_description};
use super::dialect::{self, Advisory, PgStatement, Schema, SessionContext, SetCommand};
use super::wire::{send_complete, send_parameters, socket};

/// `25P02`'s message (PostgreSQL's wording).
const IN_FAILED: &str =
    "current transaction is aborted, commands ignored until end of transaction block";

/// Translates a client text with this connection's context.
/// The schema (for parameter type inference) is read only when `infer` asks for it: the
/// simple protocol has no parameters, and its result types settle on the first row. In a
/// failed transaction nothing can be read, and nothing but ending it may run, so the schema
/// is left empty there.
///
/// # Errors
/// The translator's errors, and the session's (`25P03` after an idle-in-transaction
/// timeout) when the schema is read.
pub async fn translate<C: ClientInfo>(
    conn: &PgConn,
    client: &C,
    sql: &str,
    infer: Inference,
) -> Result<Vec<PgStatement>, DbError> {
    let embedded = conn.kind() == BackendKind::Sqlite;
    let schema = if infer == Inference::WithSchema && conn.txn_state().await != TxnState::Failed {
        conn.schema().await?
    } else {
        std::sync::Arc::new(Schema::default())
    };
    let database = client
        .metadata()
        .get(pgwire::api::METADATA_DATABASE)
        .cloned()
        .unwrap_or_else(|| "main".to_owned());
    let user = client
        .metadata()
        .get(pgwire::api::METADATA_USER)
        .cloned()
        .unwrap_or_default();
    let backend_pid = client.pid_and_secret_key().0;
    // Translation is synchronous: it reads the settings in place rather than from a copy.
    conn.with_settings(|settings| {
        let lookup = |name: &str| settings.get(name);
        let ctx = SessionContext {
            database: &database,
            user: &user,
            backend_pid,
            setting: &lookup,
        };
        if embedded {
            dialect::translate(sql, &ctx, &*schema)
        } else {
            passthrough(sql, &ctx, &schema)
        }
    })
}

/// Statements for an external MySQL source: the gateway still answers `SET`/`SHOW`, advisory
/// locks and empty statements itself, but every other statement goes to the server as the
/// client wrote it, PostgreSQL-only syntax translated (`dialect::to_mysql`; its `$n`
/// placeholders become MySQL's `?` in the backend); the command tag
/// and the parameter types (inferred against the server's columns) come from the translator.
fn passthrough(
    sql: &str,
    ctx: &SessionContext<'_>,
    schema: &Schema,
) -> Result<Vec<PgStatement>, DbError> {
    let mut out = Vec::new();
    for piece in starbase_backends::sqlite::split::split(sql) {
        let text = piece.text.trim().trim_end_matches(';').trim();
        if text.is_empty() {
            continue;
        }
        // Refusals first, so an untranslatable construct is named for MySQL.
        let mysql = dialect::to_mysql(text)?;
        for statement in dialect::translate(text, ctx, schema)? {
            out.push(match statement {
                PgStatement::Query(mut t) => {
                    // The translator's parameter types come from the client's text and the
                    // server's columns; its result types are SQLite's, so the server decides.
                    // The text itself is the client's with PostgreSQL-only syntax rewritten
                    // for MySQL (or refused with 0A000 naming it).
                    t.sql.clone_from(&mysql);
                    t.columns.clear();
                    PgStatement::Query(t)
                }
                other => other,
            });
        }
    }
    if out.is_empty() {
        out.push(PgStatement::Empty);
    }
    Ok(out)
}

/// Whether translation reads the schema to infer parameter types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inference {
    /// Extended protocol: parameter types matter.
    WithSchema,
    /// Simple protocol: no parameters.
    TextOnly,
}

/// The columns a command answers with (`SHOW x` → one text column named `x`).
#[must_use]
pub fn command_columns(statement: &PgStatement) -> Option<Vec<ResultColumn>> {
    let column = ResultColumn::computed;
    match statement {
        PgStatement::Show(name) if name == "all" => Some(vec![
            column("name", PgType::Text),
            column("setting", PgType::Text),
            column("description", PgType::Text),
        ]),
        PgStatement::Show(name) => Some(vec![column(name, PgType::Text)]),
        PgStatement::SetConfig(_) => Some(vec![column("set_config", PgType::Text)]),
        PgStatement::Advisory(a) => Some(vec![advisory_column(advisory_name(*a))]),
        PgStatement::AdvisoryParams(p) => {
            Some(vec![advisory_column(advisory_name(p.call.with_key(0)))])
        }
        _ => None,
    }
}

/// The function name an advisory call's result column carries.
fn advisory_name(call: Advisory) -> &'static str {
    match call {
        Advisory::Lock(_) => "pg_advisory_lock",
        Advisory::TryLock(_) => "pg_try_advisory_lock",
        Advisory::Unlock(_) => "pg_advisory_unlock",
        Advisory::UnlockAll => "pg_advisory_unlock_all",
        Advisory::XactLock(_) => "pg_advisory_xact_lock",
        Advisory::TryXactLock(_) => "pg_try_advisory_xact_lock",
    }
}

/// The result column of an advisory call: `bool` for the try/unlock forms, `void` (sent as
/// an empty text) for the others.
fn advisory_column(name: &str) -> ResultColumn {
    let ty = if name.starts_with("pg_try") || name == "pg_advisory_unlock" {
        PgType::Bool
    } else {
        PgType::Text
    };
    ResultColumn::computed(name, ty)
}

/// Runs a `SET`/`SHOW`/advisory command; `describe` sends its `RowDescription` first (the
/// simple protocol; the extended one described it already). `columns` carries the formats
/// the extended protocol's Bind asked for.
///
/// # Errors
/// `25P02` in a failed transaction, and the command's own errors.
pub async fn run_command<C>(
    conn: &PgConn,
    client: &mut C,
    statement: PgStatement,
    describe: bool,
) -> Result<(), DbError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let columns = command_columns(&statement);
    run_command_with(conn, client, statement, describe, columns).await
}

/// As [`run_command`], with the columns (and formats) to answer in.
///
/// # Errors
/// As [`run_command`].
pub async fn run_command_with<C>(
    conn: &PgConn,
    client: &mut C,
    statement: PgStatement,
    describe: bool,
    columns: Option<Vec<ResultColumn>>,
) -> Result<(), DbError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if conn.txn_state().await == TxnState::Failed {
        return Err(DbError::new(SqlState::IN_FAILED_SQL_TRANSACTION, IN_FAILED));
    }
    let rows: Vec<Vec<Value>> = match statement {
        PgStatement::Set(set) => {
            let reports = apply_set(conn, &set)?;
            send_parameters(client, reports)
                .await
                .map_err(socket::<PgWireError>)?;
            send_complete(client, "SET", false, 0, None)
                .await
                .map_err(socket::<PgWireError>)?;
            return Ok(());
        }
        PgStatement::Show(name) if name == "all" => conn.with_settings(|s| {
            s.all()
                .into_iter()
                .map(|(n, v)| vec![Value::Text(n), Value::Text(v), Value::Text(String::new())])
                .collect()
        }),
        PgStatement::Show(name) => vec![vec![Value::Text(conn.with_settings(|s| s.show(&name))?)]],
        PgStatement::SetConfig(set) => {
            let reports = apply_set(conn, &set)?;
            send_parameters(client, reports)
                .await
                .map_err(socket::<PgWireError>)?;
            let value = match set {
                SetCommand::Value { value, .. } => value,
                _ => String::new(),
            };
            vec![vec![Value::Text(value)]]
        }
        PgStatement::Advisory(a) => vec![vec![advisory(conn, a).await]],
        PgStatement::AdvisoryParams(_) => {
            return Err(DbError::protocol_violation(
                "an advisory lock call with parameters needs the extended query protocol",
            ));
        }
        PgStatement::Query(_) | PgStatement::Empty => return Ok(()),
    };
    let columns = columns.unwrap_or_default();
    if describe {
        client
            .feed(PgWireBackendMessage::RowDescription(row_description(
                &columns,
            )))
            .await
            .map_err(socket)?;
    }
    for row in &rows {
        client
            .feed(PgWireBackendMessage::DataRow(data_row(row, &columns)?))
            .await
            .map_err(socket)?;
    }
    let tag = if matches!(columns.first(), Some(c) if c.name.starts_with("pg_") || c.name == "set_config")
    {
        "SELECT"
    } else {
        "SHOW"
    };
    send_complete(client, tag, tag == "SELECT", rows.len() as u64, None)
        .await
        .map_err(socket::<PgWireError>)
}

fn apply_set(conn: &PgConn, set: &SetCommand) -> Result<Vec<(String, String)>, DbError> {
    conn.with_settings(|s| apply_one(s, set))
}

fn apply_one(
    s: &mut super::settings::Settings,
    set: &SetCommand,
) -> Result<Vec<(String, String)>, DbError> {
    match set {
        SetCommand::Value { name, value, local } => {
            Ok(s.set(name, value, *local)?.into_iter().collect())
        }
        SetCommand::Default { name, local } => Ok(s.reset(name, *local)?.into_iter().collect()),
        SetCommand::ResetAll => Ok(s.reset_all()),
        SetCommand::Several(all) => {
            let mut reports = Vec::new();
            for one in all {
                reports.extend(apply_one(s, one)?);
            }
            Ok(reports)
        }
    }
}

async fn advisory(conn: &PgConn, call: Advisory) -> Value {
    let locks = &conn.shared.locks;
    match call {
        Advisory::Lock(key) | Advisory::XactLock(key) => {
            locks.lock(conn.id, key).await;
            Value::Text(String::new())
        }
        Advisory::TryLock(key) | Advisory::TryXactLock(key) => {
            Value::Bool(locks.try_lock(conn.id, key))
        }
        Advisory::Unlock(key) => Value::Bool(locks.unlock(conn.id, key)),
        Advisory::UnlockAll => {
            locks.unlock_all(conn.id);
            Value::Text(String::new())
        }
    }
}

/// The session's state after a statement; a transaction that just ended undoes its
/// `SET LOCAL`s (reporting the reported settings that changed back).
///
/// # Errors
/// When the socket fails.
pub async fn after_statement<C>(conn: &PgConn, client: &mut C) -> Result<TxnState, PgWireError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let state = conn.txn_state().await;
    if state == TxnState::Idle {
        let reports = conn.with_settings(super::settings::Settings::end_transaction);
        send_parameters(client, reports).await?;
    }
    Ok(state)
}
