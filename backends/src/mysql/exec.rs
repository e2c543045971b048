//! Running statements on one MySQL/MariaDB connection.
//!
//! Owns the `Conn` implementation: statements without parameters go through the text
//! protocol (`query_iter`, which also runs statements MySQL cannot prepare), statements with
//! parameters through the binary one (`exec_iter`); rows stream as the driver reads them,
//! so a slow consumer slows the server. Describe prepares without executing. Cancel is
//! `KILL QUERY <id>` on a separate connection (the interrupted statement fails with 1317,
//! `57014`). Must not know about plan modes or transactions spanning statements.

use mysql_async::prelude::Queryable;
use mysql_async::{BinaryProtocol, QueryResult, TextProtocol};
use starbase_protocol::DbError;

use super::convert::{self, Kind};
use super::pool::{MySqlConn, MySqlSource};
use crate::external::Tasks;
use crate::external::conn::{Bound, Canceller, Conn, Source};
use crate::external::lex::Server;
use crate::external::out::{Failure, Out};
use crate::result::{Event, ExecSummary};

/// Cancels the statement running on one connection with `KILL QUERY`.
#[derive(Debug)]
pub(crate) struct MySqlCanceller {
    id: u32,
    shared: std::sync::Arc<super::pool::Shared>,
}

impl Canceller for MySqlCanceller {
    async fn cancel(&self) {
        let kill = async {
            let mut side = mysql_async::Conn::new(self.shared.route().opts.clone()).await?;
            side.query_drop(format!("KILL QUERY {}", self.id)).await?;
            side.disconnect().await
        };
        match tokio::time::timeout(self.shared.connect_timeout, kill).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot cancel a MySQL statement"),
            Err(_) => tracing::warn!("cancelling a MySQL statement timed out"),
        }
    }
}

/// Either protocol's result, read the same way.
enum Results<'a> {
    Text(QueryResult<'a, 'static, TextProtocol>),
    Binary(QueryResult<'a, 'static, BinaryProtocol>),
}

impl Results<'_> {
    fn columns(&self) -> Vec<mysql_async::Column> {
        match self {
            Results::Text(r) => r.columns_ref().to_vec(),
            Results::Binary(r) => r.columns_ref().to_vec(),
        }
    }

    async fn next(&mut self) -> mysql_async::Result<Option<mysql_async::Row>> {
        match self {
            Results::Text(r) => r.next().await,
            Results::Binary(r) => r.next().await,
        }
    }

    fn summary(&self) -> (u64, Option<u64>) {
        match self {
            Results::Text(r) => (r.affected_rows(), r.last_insert_id()),
            Results::Binary(r) => (r.affected_rows(), r.last_insert_id()),
        }
    }

    async fn drop_result(self) -> mysql_async::Result<()> {
        match self {
            Results::Text(r) => r.drop_result().await,
            Results::Binary(r) => r.drop_result().await,
        }
    }
}

/// Streams one statement's rows; returns rows read, rows affected and the insert id.
async fn stream(
    results: &mut Results<'_>,
    out: &mut Out,
) -> Result<Result<(u64, u64, Option<u64>), mysql_async::Error>, Failure> {
    let columns = results.columns();
    let kinds: Vec<Kind> = columns.iter().map(convert::kind).collect();
    out.send(Event::Columns(convert::columns(&columns).into()))
        .await?;
    let mut count = 0u64;
    loop {
        match results.next().await {
            Ok(Some(row)) => {
                let values = row
                    .unwrap()
                    .into_iter()
                    .zip(&kinds)
                    .map(|(v, k)| convert::decode(*k, v))
                    .collect();
                count += 1;
                out.row(values).await?;
            }
            Ok(None) => break,
            Err(e) => return Ok(Err(e)),
        }
    }
    let (affected, id) = results.summary();
    Ok(Ok((count, affected, id)))
}

impl Conn for MySqlConn {
    type Canceller = MySqlCanceller;
    const SERVER: Server = Server::MySql;

    fn canceller(&self) -> MySqlCanceller {
        MySqlCanceller {
            id: self.id,
            shared: std::sync::Arc::clone(&self.shared),
        }
    }

    async fn run(&mut self, stmt: &Bound, out: &mut Out) -> Result<ExecSummary, Failure> {
        let conn = self.conn()?;
        let opened = if stmt.values.is_empty() {
            conn.query_iter(stmt.sql.as_str()).await.map(Results::Text)
        } else {
            let params: Vec<_> = stmt.values.iter().map(convert::param).collect();
            conn.exec_iter(stmt.sql.as_str(), params)
                .await
                .map(Results::Binary)
        };
        let mut results = match opened {
            Ok(r) => r,
            Err(e) => return Err(self.fail(&e).into()),
        };
        let streamed = stream(&mut results, out).await?;
        let finished = match streamed {
            Ok(counts) => results.drop_result().await.map(|()| counts),
            Err(e) => Err(e),
        };
        let (rows_read, affected, id) = finished.map_err(|e| self.fail(&e))?;
        let rows_written = if stmt.writes { affected } else { 0 };
        Ok(ExecSummary {
            rows_read,
            rows_written,
            last_insert_id: id
                .filter(|&id| id > 0 && rows_written > 0)
                .and_then(|id| i64::try_from(id).ok()),
        })
    }

    async fn describe(&mut self, sql: &str, out: &mut Out) -> Result<(), Failure> {
        let conn = self.conn()?;
        let prepared = conn.prep(sql).await;
        let stmt = match prepared {
            Ok(s) => s,
            Err(e) => return Err(self.fail(&e).into()),
        };
        let columns = convert::columns(&stmt.columns());
        out.send(Event::Columns(columns.into())).await
    }

    async fn control(&mut self, sql: &str) -> Result<(), DbError> {
        let conn = self.conn()?;
        let result = conn.query_drop(sql).await;
        if result.is_err() {
            // A connection that may still be inside a transaction never goes back.
            self.broken |= sql.eq_ignore_ascii_case("ROLLBACK");
        }
        result.map_err(|e| self.fail(&e))
    }

    fn is_broken(&self) -> bool {
        self.broken || self.conn.is_none()
    }

    async fn discard(mut self) {
        if let Some(conn) = self.conn.take() {
            let timeout = self.shared.connect_timeout;
            if tokio::time::timeout(timeout, conn.disconnect())
                .await
                .is_err()
            {
                tracing::warn!("closing a MySQL connection timed out");
            }
        }
    }

    fn detach(self) {
        // Back to the pool, which resets the session (rolling back any transaction) before
        // reusing it.
        drop(self);
    }
}

impl Source for MySqlSource {
    type Conn = MySqlConn;

    async fn acquire(&self) -> Result<MySqlConn, DbError> {
        self.get().await
    }

    fn tasks(&self) -> &Tasks {
        &self.0.tasks
    }
}
