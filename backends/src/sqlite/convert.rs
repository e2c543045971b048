//! Values between Starbase and SQLite.
//!
//! Owns binding a `Value` to a prepared statement, reading a result row back into `Value`s,
//! describing result columns, and the size estimate used to cut row batches. Must not know
//! about jobs, threads, parameters' names or SQLSTATE mapping beyond calling `classify`.

use rusqlite::Connection;
use rusqlite::types::{Null, ValueRef};
use starbase_protocol::{Column, ColumnType, DbError, Row, SqlState, Value};

use super::error::classify;

/// Binds `value` to the 1-based parameter `index`.
///
/// Null, Bool (as 0/1), Int, Float, Numeric (as its text), Text, Bytes (as a BLOB) and Json
/// (as its JSON text).
pub(super) fn bind_value(
    stmt: &mut rusqlite::Statement<'_>,
    index: usize,
    value: &Value,
) -> Result<(), DbError> {
    let bound = match value {
        Value::Null => stmt.raw_bind_parameter(index, Null),
        Value::Bool(b) => stmt.raw_bind_parameter(index, i64::from(*b)),
        Value::Int(i) => stmt.raw_bind_parameter(index, *i),
        Value::Float(f) => stmt.raw_bind_parameter(index, *f),
        Value::Numeric(s) | Value::Text(s) => stmt.raw_bind_parameter(index, s.as_str()),
        Value::Bytes(b) => stmt.raw_bind_parameter(index, b.as_slice()),
        Value::Json(j) => stmt.raw_bind_parameter(index, j.to_string()),
        other => {
            return Err(DbError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!("parameter {index}: values like {other:?} cannot be stored in SQLite"),
            ));
        }
    };
    bound.map_err(|e| classify(&e))
}

/// Reads the first `columns` values of a result row.
pub(super) fn read_row(row: &rusqlite::Row<'_>, columns: usize) -> Result<Row, DbError> {
    (0..columns)
        .map(|i| row.get_ref(i).map(to_value).map_err(|e| classify(&e)))
        .collect()
}

/// Converts one SQLite value. Text that is not valid UTF-8 is repaired lossily rather than
/// failing the whole result.
pub(super) fn to_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

/// The result columns of a prepared statement (empty for statements without rows).
pub(super) fn columns(conn: &Connection, stmt: &rusqlite::Statement<'_>) -> Vec<Column> {
    let mut origins = super::origin::Origins::new(conn);
    stmt.columns()
        .zip(stmt.columns_with_metadata())
        .map(|(c, meta)| Column {
            name: c.name().to_owned(),
            ty: ColumnType::from_sqlite_decl(c.decl_type()),
            source_type: c.decl_type().map(str::to_owned),
            origin: origins.of(&meta),
        })
        .collect()
}

/// Approximate in-memory size of a row, for cutting batches near `BATCH_BYTES`.
pub(super) fn row_size(row: &Row) -> usize {
    row.iter()
        .map(|v| match v {
            Value::Numeric(s) | Value::Text(s) => s.len() + 8,
            Value::Bytes(b) => b.len() + 8,
            _ => 8,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use starbase_protocol::ColumnOrigin;

    fn round_trip(value: &Value) -> Value {
        let conn = Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare("SELECT ?1").unwrap();
        bind_value(&mut stmt, 1, value).unwrap();
        let mut rows = stmt.raw_query();
        let row = rows.next().unwrap().unwrap();
        read_row(row, 1).unwrap().remove(0)
    }

    #[test]
    fn values_round_trip_through_sqlite() {
        let cases = [
            (Value::Null, Value::Null),
            (Value::Bool(true), Value::Int(1)),
            (Value::Bool(false), Value::Int(0)),
            (Value::Int(i64::MAX), Value::Int(i64::MAX)),
            (Value::Int(i64::MIN), Value::Int(i64::MIN)),
            (Value::Float(1.5), Value::Float(1.5)),
            (Value::Numeric("12.30".into()), Value::Text("12.30".into())),
            (
                Value::Text("héllo 🌍".into()),
                Value::Text("héllo 🌍".into()),
            ),
            (Value::Bytes(vec![0, 1, 255]), Value::Bytes(vec![0, 1, 255])),
            (
                Value::Json(serde_json::json!({"a": [1, null]})),
                Value::Text(r#"{"a":[1,null]}"#.into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(round_trip(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn columns_carry_declared_types() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (i INTEGER, s VARCHAR(3), b BLOB, n)")
            .unwrap();
        let stmt = conn
            .prepare("SELECT i, s, b, n, 1 + 1 AS e FROM t")
            .unwrap();
        let cols = columns(&conn, &stmt);
        let got: Vec<_> = cols
            .iter()
            .map(|c| (c.name.as_str(), c.ty, c.source_type.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("i", ColumnType::Int8, Some("INTEGER")),
                ("s", ColumnType::Text, Some("VARCHAR(3)")),
                ("b", ColumnType::Bytes, Some("BLOB")),
                ("n", ColumnType::Unknown, None),
                ("e", ColumnType::Unknown, None),
            ]
        );
        let stmt = conn.prepare("CREATE TABLE u (x)").unwrap();
        assert!(columns(&conn, &stmt).is_empty());
    }

    #[test]
    fn columns_carry_their_table_origin_and_attnum() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a INTEGER, \"B\" TEXT, c); CREATE VIEW v AS SELECT c FROM t",
        )
        .unwrap();
        let stmt = conn
            .prepare("SELECT x.c, x.b AS bee, a + 1, name FROM t x, v, sqlite_schema")
            .unwrap();
        let got: Vec<_> = columns(&conn, &stmt)
            .into_iter()
            .map(|c| c.origin)
            .collect();
        let origin = |column: &str, position| {
            Some(ColumnOrigin {
                table: "t".into(),
                column: column.into(),
                position,
            })
        };
        assert_eq!(got, vec![origin("c", 3), origin("B", 2), None, None]);
    }

    #[test]
    fn row_size_counts_payloads() {
        let row = vec![
            Value::Int(1),
            Value::Text("abcd".into()),
            Value::Bytes(vec![0; 10]),
        ];
        assert_eq!(row_size(&row), 8 + 12 + 18);
    }
}
