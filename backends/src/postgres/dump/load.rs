//! `PgLoad`: one PostgreSQL transaction running the statements of an uploaded script.
//!
//! Owns the pinned connection between `BEGIN` and `COMMIT`: statements go through the
//! simple-query protocol (no statement cache fills up, `SET`/`SELECT setval(…)` and DDL run
//! as `psql` would run them), `COPY … FROM stdin` data streams through `copy_in`. PostgreSQL
//! DDL is transactional, so a failure anywhere rolls back everything. The connection is
//! closed afterwards rather than pooled, so whatever the script set for its session dies
//! with it. Must not know how the script is split.

use std::pin::Pin;

use bytes::Bytes;
use deadpool_postgres::Object;
use futures_util::SinkExt;
use starbase_protocol::DbError;
use tokio_postgres::CopyInSink;

use super::super::error::from_pg;
use crate::error::Error;

/// A script being loaded into PostgreSQL (see the module doc).
pub struct PgLoad {
    obj: Option<Object>,
    address: String,
    copy: Option<Pin<Box<CopyInSink<Bytes>>>>,
}

impl std::fmt::Debug for PgLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLoad")
            .field("address", &self.address)
            .field("copying", &self.copy.is_some())
            .finish_non_exhaustive()
    }
}

impl PgLoad {
    pub(in crate::postgres) async fn begin(obj: Object, address: String) -> Result<Self, Error> {
        let load = Self {
            obj: Some(obj),
            address,
            copy: None,
        };
        load.execute("BEGIN").await?;
        Ok(load)
    }

    fn client(&self) -> Result<&Object, DbError> {
        self.obj
            .as_ref()
            .ok_or_else(|| DbError::internal("the load's connection is closed"))
    }

    fn fail(&self, e: &tokio_postgres::Error) -> DbError {
        from_pg(e, &self.address)
    }

    /// Runs one statement (its rows, if any, are discarded).
    ///
    /// # Errors
    /// The server's error.
    pub async fn execute(&self, sql: &str) -> Result<(), DbError> {
        self.client()?
            .batch_execute(sql)
            .await
            .map_err(|e| self.fail(&e))
    }

    /// Starts `COPY … FROM stdin`.
    ///
    /// # Errors
    /// The server's error for the statement.
    pub async fn copy_start(&mut self, sql: &str) -> Result<(), DbError> {
        let sink = self
            .client()?
            .copy_in::<_, Bytes>(sql)
            .await
            .map_err(|e| self.fail(&e))?;
        self.copy = Some(Box::pin(sink));
        Ok(())
    }

    /// Sends data lines of the running `COPY`.
    ///
    /// # Errors
    /// The server's error (it reports bad data when the copy ends at the latest).
    pub async fn copy_data(&mut self, data: Bytes) -> Result<(), DbError> {
        let Some(sink) = self.copy.as_mut() else {
            return Err(DbError::internal("COPY data outside a COPY"));
        };
        match sink.send(data).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.copy = None;
                Err(from_pg(&e, &self.address))
            }
        }
    }

    /// Ends the running `COPY`; the rows it loaded.
    ///
    /// # Errors
    /// The server's error for the data.
    pub async fn copy_finish(&mut self) -> Result<u64, DbError> {
        let Some(sink) = self.copy.take() else {
            return Err(DbError::internal("COPY end outside a COPY"));
        };
        let mut sink = sink;
        sink.as_mut()
            .finish()
            .await
            .map_err(|e| from_pg(&e, &self.address))
    }

    /// Commits, then closes the connection.
    ///
    /// # Errors
    /// The server's commit error (a deferred constraint); nothing is committed then.
    pub async fn commit(mut self) -> Result<(), DbError> {
        let result = self.execute("COMMIT").await;
        self.close();
        result
    }

    /// Rolls back and closes the connection.
    pub async fn rollback(mut self) {
        self.copy = None;
        if let Err(e) = self.execute("ROLLBACK").await {
            tracing::debug!(error = %e, "rollback of a load failed; closing its connection");
        }
        self.close();
    }

    fn close(&mut self) {
        self.copy = None;
        if let Some(obj) = self.obj.take() {
            drop(Object::take(obj));
        }
    }
}

impl Drop for PgLoad {
    fn drop(&mut self) {
        // Not committed: closing the connection makes the server roll back.
        self.close();
    }
}
