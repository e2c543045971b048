//! The row a REST write stored, on every backend: `… RETURNING *` where the database has it
//! (SQLite, PostgreSQL), and on MySQL (no `RETURNING`) the same statement and a `SELECT` by
//! primary key in one transaction.
//!
//! Owns building those statements. On MySQL an insert reads its row back by the key the body
//! gave or, for a generated key, `LAST_INSERT_ID()` (the same pinned connection); a delete reads
//! the row before deleting it. Must not know HTTP.

use serde_json::{Map, Value as Json};
use starbase_protocol::{Dialect, Value};

use super::Rest;
use super::filter::Clauses;
use crate::frontend::http::error::ApiError;

impl Rest<'_> {
    /// Inserts `params` into the columns `names` (quoted); the stored row.
    pub(super) async fn insert_returning(
        &self,
        names: &[String],
        params: Vec<Value>,
        body: &Map<String, Json>,
    ) -> Result<Option<Json>, ApiError> {
        let placeholders: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table.qualified(),
            names.join(", "),
            placeholders.join(", ")
        );
        if self.table.dialect != Dialect::MySql {
            return self
                .one_row(vec![(format!("{insert} RETURNING *"), params)], 0)
                .await;
        }
        let pk = self.table.primary_key();
        if pk.is_empty() {
            // Nothing identifies the row: answer with what was stored, as given.
            self.one_row(vec![(insert, params)], 0).await?;
            return Ok(Some(Json::Object(body.clone())));
        }
        let mut conditions = Vec::with_capacity(pk.len());
        let mut key = Vec::new();
        for column in pk {
            let name = self.table.quote(&column.name);
            match body.get(&column.name) {
                Some(value) => {
                    key.push(Value::from_json_param(value)?);
                    conditions.push(format!("{name} = ${}", key.len()));
                }
                None => conditions.push(format!("{name} = LAST_INSERT_ID()")),
            }
        }
        let select = format!(
            "SELECT * FROM {} WHERE {}",
            self.table.qualified(),
            conditions.join(" AND ")
        );
        self.one_row(vec![(insert, params), (select, key)], 1).await
    }

    /// `UPDATE … SET sets` on the rows `keys` match (their parameters first); the stored row.
    pub(super) async fn update_returning(
        &self,
        sets: &[String],
        keys: Clauses,
    ) -> Result<Option<Json>, ApiError> {
        let update = format!(
            "UPDATE {} SET {}{}",
            self.table.qualified(),
            sets.join(", "),
            keys.where_clause()
        );
        if self.table.dialect != Dialect::MySql {
            return self
                .one_row(vec![(format!("{update} RETURNING *"), keys.params)], 0)
                .await;
        }
        // Every key condition binds one parameter, and they come before the SET values.
        let key = keys.params[..keys.conditions.len()].to_vec();
        let select = format!(
            "SELECT * FROM {}{}",
            self.table.qualified(),
            keys.where_clause()
        );
        self.one_row(vec![(update, keys.params), (select, key)], 1)
            .await
    }

    /// Deletes the rows `keys` match; the deleted row.
    pub(super) async fn delete_returning(&self, keys: Clauses) -> Result<Option<Json>, ApiError> {
        let delete = format!(
            "DELETE FROM {}{}",
            self.table.qualified(),
            keys.where_clause()
        );
        if self.table.dialect != Dialect::MySql {
            return self
                .one_row(vec![(format!("{delete} RETURNING *"), keys.params)], 0)
                .await;
        }
        let select = format!(
            "SELECT * FROM {}{}",
            self.table.qualified(),
            keys.where_clause()
        );
        self.one_row(
            vec![(select, keys.params.clone()), (delete, keys.params)],
            0,
        )
        .await
    }
}
