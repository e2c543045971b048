//! Parse: a client text becomes a prepared statement with its parameter and result types
//! known before anything runs.
//!
//! Owns `Prepared` and the `QueryParser` pgwire calls on `Parse`: translation, exactly one
//! statement per `Parse` (`42601` otherwise, as PostgreSQL), the result columns from a
//! describe-only plan run in the connection's session (so tables created earlier in the
//! same transaction are seen, and a failure there fails the transaction, as in
//! PostgreSQL), and the parameter types (the client's own OIDs win, then the translator's
//! inference, then `text`). Must not know portals or row streaming.

use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::portal::Format;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::api::stmt::QueryParser;
use pgwire::api::{ClientInfo, Type};
use pgwire::error::PgWireResult;
use starbase_backends::Event;
use starbase_protocol::{Column, DbError, Dialect, ExecMode, Params, PgType, SqlState, Statement};

use super::commands::{Inference, command_columns, translate};
use super::conn::PgConn;
use super::describe::{ResultColumn, finalize, result_columns};
use super::dialect::PgStatement;
use super::error::wire_error;

/// A statement after `Parse`.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// What it does.
    pub statement: PgStatement,
    /// Parameter types, `$1` first.
    pub params: Vec<PgType>,
    /// Result columns (empty when it returns no rows), formats all text.
    pub columns: Vec<ResultColumn>,
    /// The statement to run, built once (text shared, classification done) for every
    /// `Execute`; `None` for what the gateway answers itself.
    pub run: Option<Statement>,
}

/// pgwire's `QueryParser` for one connection.
#[derive(Debug)]
pub struct Parser {
    conn: Arc<PgConn>,
}

impl Parser {
    /// A parser preparing statements in `conn`'s session.
    #[must_use]
    pub fn new(conn: Arc<PgConn>) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        prepare(&self.conn, client, sql, types)
            .await
            .map(Some)
            .map_err(|e| wire_error(&e))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.params.iter().map(|t| wire_type(*t)).collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let codes = column_format.map(format_codes).unwrap_or_default();
        let mut columns = stmt.columns.clone();
        super::describe::apply_formats(&mut columns, &codes);
        Ok(columns.iter().map(field_info).collect())
    }
}

/// The format codes a `Format` stands for.
#[must_use]
pub fn format_codes(format: &Format) -> Vec<i16> {
    match format {
        Format::UnifiedText => Vec::new(),
        Format::UnifiedBinary => vec![1],
        Format::Individual(codes) => codes.clone(),
    }
}

/// pgwire's type for one of ours.
#[must_use]
pub fn wire_type(ty: PgType) -> Type {
    Type::from_oid(ty.oid()).unwrap_or(Type::TEXT)
}

fn field_info(column: &ResultColumn) -> FieldInfo {
    let format = if column.binary {
        FieldFormat::Binary
    } else {
        FieldFormat::Text
    };
    FieldInfo::new(
        column.name.clone(),
        None,
        None,
        wire_type(column.ty),
        format,
    )
    .with_type_size(column.ty.typlen())
}

async fn prepare<C: ClientInfo>(
    conn: &PgConn,
    client: &C,
    sql: &str,
    client_types: &[Option<Type>],
) -> Result<Prepared, DbError> {
    let mut statements = translate(conn, client, sql, Inference::WithSchema).await?;
    if statements.len() != 1 {
        return Err(DbError::new(
            SqlState::SYNTAX_ERROR,
            "cannot insert multiple commands into a prepared statement",
        ));
    }
    let statement = statements.remove(0);
    let (inferred, columns) = match &statement {
        PgStatement::Query(t) => (t.params.clone(), describe(conn, &t.sql, &t.columns).await?),
        PgStatement::AdvisoryParams(call) => (
            call.param_types(),
            command_columns(&statement).unwrap_or_default(),
        ),
        other => (Vec::new(), command_columns(other).unwrap_or_default()),
    };
    let count = inferred.len().max(client_types.len());
    let params = (0..count)
        .map(|i| {
            let from_client = client_types
                .get(i)
                .cloned()
                .flatten()
                .filter(|t| t.oid() != 0)
                .map(|t| PgType::from_oid(t.oid()).unwrap_or(PgType::Text));
            match from_client.or_else(|| inferred.get(i).copied()) {
                None | Some(PgType::Unknown) => PgType::Text,
                Some(t) => t,
            }
        })
        .collect();
    let run = match &statement {
        PgStatement::Query(t) => Some(Statement {
            sql: Arc::from(t.sql.as_str()),
            dialect: Dialect::Postgres,
            kind: t.kind,
            params: Params::None,
            access: None,
        }),
        _ => None,
    };
    Ok(Prepared {
        statement,
        params,
        columns,
        run,
    })
}

/// The result columns of `sql`, prepared (not run) in the connection's session.
async fn describe(
    conn: &PgConn,
    sql: &str,
    inferred: &[PgType],
) -> Result<Vec<ResultColumn>, DbError> {
    let mut stream = conn
        .execute(PgConn::plan(sql, Vec::new(), ExecMode::Describe))
        .await?;
    let mut first: Option<Vec<Column>> = None;
    while let Some(event) = stream.recv().await {
        match event.map_err(|e| e.to_db_error())? {
            Event::Columns(cols) if first.is_none() => first = Some(cols.to_vec()),
            Event::Finished => {
                let mut columns = result_columns(sql, &first.unwrap_or_default(), inferred);
                finalize(&mut columns);
                return Ok(columns);
            }
            _ => {}
        }
    }
    Err(DbError::internal("the database stopped answering"))
}
