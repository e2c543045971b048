//! `POST /query` and `POST /query/raw` request bodies (spec §5.1) and their validation.
//!
//! Owns decoding a JSON body into a `QueryRequest` with precise `22023` errors. The response
//! shapes are rendered incrementally by the frontends (they must bound memory), following the
//! field names documented here:
//! - `/query`: `{"result": [ {col: value, …}, … ]}`;
//! - `/query/raw`: `{"result": {"columns": [...], "rows": [[...]], "meta": {"rows_read": n, "rows_written": n}}}`;
//! - a transaction: `{"result": [ <one of the above per statement> ]}`;
//! - an error: `{"error": "<message>", "code": "<SQLSTATE>", …}`.

use crate::error::DbError;
use crate::params::Params;

/// One SQL statement with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryItem {
    /// The SQL text (non-blank).
    pub sql: String,
    /// Its parameters.
    pub params: Params,
}

/// A decoded `/query` body.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryRequest {
    /// `{"sql": …, "params": …}`.
    Single(QueryItem),
    /// `{"transaction": [{"sql": …, "params": …}, …]}`, all or nothing.
    Transaction(Vec<QueryItem>),
}

impl QueryRequest {
    /// Validates a parsed JSON body.
    ///
    /// # Errors
    /// `22023` naming the offending field (and item, inside a transaction).
    pub fn from_json(body: &serde_json::Value) -> Result<Self, DbError> {
        let obj = body
            .as_object()
            .ok_or_else(|| DbError::invalid_parameter("request body must be a JSON object"))?;
        if let Some(txn) = obj.get("transaction") {
            let items = txn.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                DbError::invalid_parameter(
                    "invalid \"transaction\" field: must be a non-empty array",
                )
            })?;
            let items = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    QueryItem::from_json(item).map_err(|e| {
                        DbError::invalid_parameter(format!(
                            "{} in transaction item {}",
                            e.message,
                            i + 1
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            return Ok(QueryRequest::Transaction(items));
        }
        QueryItem::from_json(body).map(QueryRequest::Single)
    }
}

impl QueryItem {
    fn from_json(body: &serde_json::Value) -> Result<Self, DbError> {
        let obj = body
            .as_object()
            .ok_or_else(|| DbError::invalid_parameter("item must be a JSON object"))?;
        let sql = obj
            .get("sql")
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| DbError::invalid_parameter("invalid or empty \"sql\" field"))?;
        let params = Params::from_json(obj.get("params"))?;
        Ok(QueryItem {
            sql: sql.to_owned(),
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;
    use serde_json::json;

    #[test]
    fn single_and_transaction_bodies() {
        let single = QueryRequest::from_json(&json!({"sql": "SELECT ?", "params": [1]})).unwrap();
        assert_eq!(
            single,
            QueryRequest::Single(QueryItem {
                sql: "SELECT ?".into(),
                params: Params::Positional(vec![Value::Int(1)])
            })
        );
        let txn = QueryRequest::from_json(&json!({"transaction": [
            {"sql": "SELECT 1"}, {"sql": "SELECT :a", "params": {"a": "x"}}
        ]}))
        .unwrap();
        let QueryRequest::Transaction(items) = txn else {
            panic!("not a transaction")
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn invalid_bodies_name_the_field() {
        let cases = [
            (json!([1]), "must be a JSON object"),
            (json!({}), "\"sql\""),
            (json!({"sql": "   "}), "\"sql\""),
            (json!({"sql": 5}), "\"sql\""),
            (json!({"sql": "SELECT 1", "params": 3}), "\"params\""),
            (json!({"sql": "SELECT 1", "params": "x"}), "\"params\""),
            (json!({"transaction": []}), "non-empty array"),
            (json!({"transaction": {}}), "non-empty array"),
            (
                json!({"transaction": [{"sql": "SELECT 1"}, {"sql": ""}]}),
                "transaction item 2",
            ),
            (
                json!({"transaction": [{"sql": "SELECT 1", "params": 1}]}),
                "transaction item 1",
            ),
        ];
        for (body, needle) in cases {
            let err = QueryRequest::from_json(&body).unwrap_err();
            assert_eq!(err.code.as_str(), "22023", "{body}");
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
    }
}
