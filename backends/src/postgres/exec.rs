//! Running statements on one PostgreSQL connection.
//!
//! Owns the `Conn` implementation: prepare once per pooled connection (the server infers
//! parameter and result types; a cached statement is prepared again after DDL changed its
//! result type), bind with those types, stream rows with `query_raw` (the driver reads from the socket
//! only as fast as rows are consumed, so a slow consumer slows the server), describe
//! without running, transaction control, and cancellation through the cancel token. Must
//! not know about plan modes or transactions spanning statements.

use futures_util::{StreamExt, pin_mut};
use starbase_protocol::DbError;

use super::convert::{self, Raw};
use super::encode::{self, Param};
use super::error::from_pg;
use super::pool::{PgConn, PgSource};
use crate::external::Tasks;
use crate::external::conn::{Bound, Canceller, Conn, Source};
use crate::external::lex::Server;
use crate::external::out::{Failure, Out};
use crate::result::{Event, ExecSummary};

/// Cancels the statement running on one connection.
pub(crate) struct PgCanceller {
    token: tokio_postgres::CancelToken,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl std::fmt::Debug for PgCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCanceller").finish_non_exhaustive()
    }
}

impl Canceller for PgCanceller {
    async fn cancel(&self) {
        if let Err(e) = self.token.cancel_query(self.tls.clone()).await {
            tracing::warn!(error = %e, "cannot cancel a PostgreSQL statement");
        }
    }
}

impl PgConn {
    fn fail(&mut self, err: &tokio_postgres::Error) -> DbError {
        let e = from_pg(err, &self.shared.address);
        self.note(&e);
        e
    }
}

/// PostgreSQL's refusal to run a cached statement whose result row type changed (DDL since
/// it was prepared); preparing it again fixes it.
fn is_stale_plan(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED
            && db
                .message()
                .contains("cached plan must not change result type")
    })
}

impl Conn for PgConn {
    type Canceller = PgCanceller;
    const SERVER: Server = Server::Postgres;

    fn canceller(&self) -> PgCanceller {
        PgCanceller {
            token: self.obj.cancel_token(),
            tls: self.shared.tls.clone(),
        }
    }

    async fn run(&mut self, stmt: &Bound, out: &mut Out) -> Result<ExecSummary, Failure> {
        // Statements are prepared once per pooled connection (deadpool's cache). A cached
        // statement whose result type changed under it (DDL since) is prepared afresh, once.
        let mut fresh = false;
        let (prepared, rows) = loop {
            let prepared = match self.obj.prepare_cached(&stmt.sql).await {
                Ok(p) => p,
                Err(e) => return Err(self.fail(&e).into()),
            };
            encode::check(prepared.params(), &stmt.values)?;
            let params = stmt.values.iter().map(Param);
            match self.obj.query_raw(&prepared, params).await {
                Ok(rows) => break (prepared, rows),
                Err(e) if !fresh && is_stale_plan(&e) => {
                    self.obj.statement_cache.clear();
                    fresh = true;
                }
                Err(e) => return Err(self.fail(&e).into()),
            }
        };
        let columns = convert::columns(prepared.columns());
        let types: Vec<_> = prepared
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        out.send(Event::Columns(columns.into())).await?;
        pin_mut!(rows);
        let mut count = 0u64;
        while let Some(row) = rows.next().await {
            let row = match row {
                Ok(row) => row,
                Err(e) => return Err(self.fail(&e).into()),
            };
            let mut values = Vec::with_capacity(types.len());
            for (i, ty) in types.iter().enumerate() {
                let raw = row.try_get::<_, Raw<'_>>(i).map_err(|e| self.fail(&e))?;
                values.push(convert::decode(ty, raw.0)?);
            }
            count += 1;
            out.row(values).await?;
        }
        let affected = rows.rows_affected().unwrap_or(0);
        Ok(ExecSummary {
            rows_read: count,
            rows_written: if stmt.writes { affected } else { 0 },
            last_insert_id: None,
        })
    }

    async fn describe(&mut self, sql: &str, out: &mut Out) -> Result<(), Failure> {
        let prepared = match self.obj.prepare(sql).await {
            Ok(p) => p,
            Err(e) => return Err(self.fail(&e).into()),
        };
        out.send(Event::Columns(convert::columns(prepared.columns()).into()))
            .await
    }

    async fn control(&mut self, sql: &str) -> Result<(), DbError> {
        match self.obj.batch_execute(sql).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // A connection that may still be inside a transaction never goes back.
                self.broken |= sql.eq_ignore_ascii_case("ROLLBACK");
                Err(self.fail(&e))
            }
        }
    }

    fn is_broken(&self) -> bool {
        self.broken || self.obj.is_closed()
    }

    async fn discard(self) {
        self.detach();
    }

    fn detach(self) {
        // Taken out of the pool and dropped: the connection closes and the server rolls
        // back whatever was open.
        drop(deadpool_postgres::Object::take(self.obj));
    }
}

impl Source for PgSource {
    type Conn = PgConn;

    async fn acquire(&self) -> Result<PgConn, DbError> {
        self.get().await
    }

    fn tasks(&self) -> &Tasks {
        &self.0.tasks
    }
}
