//! The admin's operations on the policy tables, for `/admin/allowlist` and
//! `/admin/rls/policies`: list, add (validated first), delete by id.
//!
//! Owns checking an entry before it is stored, so a bad entry is a 400 instead of a table
//! that silently denies everything. Must not know HTTP.

use serde::{Deserialize, Serialize};
use starbase_protocol::sql::rls::Policy;
use starbase_protocol::sql::shape::statement_shape;
use starbase_protocol::{DbError, Dialect, Row, SqlState, Value};

use super::store::PolicyStore;

/// An allowlist entry, in StarbaseDB's columns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AllowlistEntry {
    /// Row id (ignored on input).
    #[serde(default)]
    pub id: Option<i64>,
    /// The allowed statement; its shape is what matches.
    pub sql_statement: String,
    /// The source it applies to: `internal` (the default here) or an external source's name.
    #[serde(default)]
    pub source: Option<String>,
}

/// A row-level-security policy, in StarbaseDB's columns (spec §8).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyRow {
    /// Row id (ignored on input).
    #[serde(default)]
    pub id: Option<i64>,
    /// `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub actions: String,
    /// Optional schema of the table.
    #[serde(default)]
    pub schema: Option<String>,
    /// The table.
    pub table: String,
    /// The column compared.
    pub column: String,
    /// A literal, `context.id()` or `context.claim('name')`.
    pub value: String,
    /// `string` (default) or `number`.
    #[serde(default)]
    pub value_type: Option<String>,
    /// The comparison (default `=`).
    #[serde(default)]
    pub operator: Option<String>,
}

impl PolicyStore {
    /// Every allowlist entry.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn allowlist(&self) -> Result<Vec<AllowlistEntry>, DbError> {
        let rows = self
            .run(
                "SELECT id, sql_statement, source FROM tmp_allowlist_queries ORDER BY id",
                Vec::new(),
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AllowlistEntry {
                id: int(r, 0),
                sql_statement: text(r, 1).unwrap_or_default(),
                source: text(r, 2),
            })
            .collect())
    }

    /// The most recent rejections, newest first.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn rejections(&self, limit: i64) -> Result<Vec<serde_json::Value>, DbError> {
        let rows = self
            .run(
                "SELECT id, sql_statement, source, created_at FROM tmp_allowlist_rejections \
                 ORDER BY id DESC LIMIT ?",
                vec![Value::Int(limit)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": int(r, 0),
                    "sql_statement": text(r, 1),
                    "source": text(r, 2),
                    "created_at": text(r, 3),
                })
            })
            .collect())
    }

    /// Adds an entry after checking that its statement can be read.
    ///
    /// # Errors
    /// `42601` for a statement that cannot be tokenized; metadata database errors.
    pub async fn add_allowlist(&self, entry: AllowlistEntry) -> Result<AllowlistEntry, DbError> {
        statement_shape(&entry.sql_statement, Dialect::Sqlite)?;
        let source = entry.source.unwrap_or_else(|| "internal".to_owned());
        let rows = self
            .run(
                "INSERT INTO tmp_allowlist_queries (sql_statement, source) VALUES (?, ?) \
                 RETURNING id",
                vec![
                    Value::Text(entry.sql_statement.clone()),
                    Value::Text(source.clone()),
                ],
            )
            .await?;
        self.reload().await?;
        Ok(AllowlistEntry {
            id: rows.first().and_then(|r| int(r, 0)),
            sql_statement: entry.sql_statement,
            source: Some(source),
        })
    }

    /// Every policy.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn policies(&self) -> Result<Vec<PolicyRow>, DbError> {
        let rows = self
            .run(
                r#"SELECT id, actions, "schema", "table", "column", value, value_type, operator
                   FROM tmp_rls_policies ORDER BY id"#,
                Vec::new(),
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| PolicyRow {
                id: int(r, 0),
                actions: text(r, 1).unwrap_or_default(),
                schema: text(r, 2),
                table: text(r, 3).unwrap_or_default(),
                column: text(r, 4).unwrap_or_default(),
                value: text(r, 5).unwrap_or_default(),
                value_type: text(r, 6),
                operator: text(r, 7),
            })
            .collect())
    }

    /// Adds a policy after checking it the way enforcement will read it.
    ///
    /// # Errors
    /// `22023` for a policy enforcement would reject (unknown action or operator, a
    /// `number` value that is not a number); metadata database errors.
    pub async fn add_policy(&self, policy: PolicyRow) -> Result<PolicyRow, DbError> {
        let value_type = policy.value_type.clone().unwrap_or_else(|| "string".into());
        let operator = policy.operator.clone().unwrap_or_else(|| "=".into());
        let actions = policy.actions.trim().to_ascii_uppercase();
        Policy::from_row(
            &actions,
            policy.schema.as_deref(),
            &policy.table,
            &policy.column,
            &policy.value,
            &value_type,
            Some(&operator),
        )
        .map_err(|e| DbError::new(SqlState::INVALID_PARAMETER_VALUE, e.message))?;
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
        let rows = self
            .run(
                r#"INSERT INTO tmp_rls_policies
                   (actions, "schema", "table", "column", value, value_type, operator)
                   VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"#,
                vec![
                    Value::Text(actions.clone()),
                    opt(&policy.schema),
                    Value::Text(policy.table.clone()),
                    Value::Text(policy.column.clone()),
                    Value::Text(policy.value.clone()),
                    Value::Text(value_type.clone()),
                    Value::Text(operator.clone()),
                ],
            )
            .await?;
        self.reload().await?;
        Ok(PolicyRow {
            id: rows.first().and_then(|r| int(r, 0)),
            actions,
            value_type: Some(value_type),
            operator: Some(operator),
            ..policy
        })
    }

    /// Deletes allowlist entry `id`; whether it existed.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn delete_allowlist(&self, id: i64) -> Result<bool, DbError> {
        self.delete("tmp_allowlist_queries", id).await
    }

    /// Deletes policy `id`; whether it existed.
    ///
    /// # Errors
    /// Errors of the metadata database.
    pub async fn delete_policy(&self, id: i64) -> Result<bool, DbError> {
        self.delete("tmp_rls_policies", id).await
    }

    async fn delete(&self, table: &'static str, id: i64) -> Result<bool, DbError> {
        let rows = self
            .run(
                &format!("DELETE FROM {table} WHERE id = ? RETURNING id"),
                vec![Value::Int(id)],
            )
            .await?;
        self.reload().await?;
        Ok(!rows.is_empty())
    }
}

fn int(row: &Row, i: usize) -> Option<i64> {
    match row.get(i)? {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

fn text(row: &Row, i: usize) -> Option<String> {
    super::store::text(row, i)
}
