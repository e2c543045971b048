//! `MySqlLoad`: the statements of an uploaded script on one pinned MySQL connection.
//!
//! Owns the connection from the first statement to `COMMIT`: `autocommit` is off, so row
//! changes wait for the commit, but every DDL statement (`CREATE`, `ALTER`, `DROP`,
//! `RENAME`, `TRUNCATE`, …) commits implicitly in MySQL/MariaDB; a failure rolls back only
//! what came after the last one. The connection is closed afterwards rather than pooled,
//! so whatever the script set for its session dies with it. Must not know how the script
//! is split.

use mysql_async::prelude::Queryable;
use starbase_protocol::DbError;

use super::super::pool::MySqlConn;
use crate::error::Error;
use crate::external::conn::Conn as _;

/// A script being loaded into MySQL (see the module doc).
#[derive(Debug)]
pub struct MySqlLoad {
    conn: Option<MySqlConn>,
}

impl MySqlLoad {
    pub(in crate::mysql) async fn begin(conn: MySqlConn) -> Result<Self, Error> {
        let mut load = Self { conn: Some(conn) };
        load.execute("SET autocommit = 0").await?;
        Ok(load)
    }

    /// Runs one statement (its rows, if any, are discarded).
    ///
    /// # Errors
    /// The server's error.
    pub async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(DbError::internal("the load's connection is closed"));
        };
        let result = conn.conn()?.query_drop(sql).await;
        result.map_err(|e| conn.fail(&e))
    }

    /// Commits, then closes the connection.
    ///
    /// # Errors
    /// The server's commit error.
    pub async fn commit(mut self) -> Result<(), DbError> {
        let result = self.execute("COMMIT").await;
        if let Some(conn) = self.conn.take() {
            conn.discard().await;
        }
        result
    }

    /// Rolls back what is not committed yet and closes the connection.
    pub async fn rollback(mut self) {
        if let Err(e) = self.execute("ROLLBACK").await {
            tracing::debug!(error = %e, "rollback of a load failed; closing its connection");
        }
        if let Some(conn) = self.conn.take() {
            conn.discard().await;
        }
    }
}
