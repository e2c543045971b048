//! SQL values independent of frontend and backend, and their JSON encoding.
//!
//! Owns `Value`, `ColumnType`, `Column`, `RowBatch`, the JSON rendering used by the HTTP and
//! WebSocket frontends, and the decoding of JSON request parameters. Must not know any driver.
//!
//! JSON encoding (documented in the README, identical on every backend):
//! integers are JSON numbers (64-bit exact), floats are numbers (`"Infinity"`, `"-Infinity"`
//! and `"NaN"` as strings), text is a string, NULL is `null`, and a BLOB is the object
//! `{"$blob": "<standard base64>"}`. The same object is accepted as a parameter, so BLOBs
//! round-trip.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::DbError;
use crate::sqlstate::SqlState;

/// The JSON object key that marks a BLOB value.
pub const BLOB_KEY: &str = "$blob";

/// A SQL value. Add a variant only when two backends disagree on how to represent something.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// 64-bit signed integer.
    Int(i64),
    /// 64-bit float.
    Float(f64),
    /// Exact decimal as canonical text; never routed through `f64`.
    Numeric(String),
    /// Text.
    Text(String),
    /// Binary data.
    Bytes(Vec<u8>),
    /// A JSON document.
    Json(serde_json::Value),
}

impl Value {
    /// Decodes one request parameter from JSON.
    ///
    /// # Errors
    /// `22003` for an integer outside the signed 64-bit range, `22023` for a malformed
    /// `{"$blob": …}` object.
    pub fn from_json_param(json: &serde_json::Value) -> Result<Self, DbError> {
        use serde_json::Value as J;
        Ok(match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if n.is_u64() {
                    return Err(DbError::new(
                        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                        format!("parameter value {n} is out of range for a 64-bit integer"),
                    ));
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Value::Text(s.clone()),
            J::Object(map) if map.len() == 1 && map.contains_key(BLOB_KEY) => {
                let encoded = map.get(BLOB_KEY).and_then(J::as_str).ok_or_else(|| {
                    DbError::invalid_parameter(format!("\"{BLOB_KEY}\" must be a base64 string"))
                })?;
                let bytes = BASE64.decode(encoded).map_err(|e| {
                    DbError::invalid_parameter(format!("\"{BLOB_KEY}\" is not valid base64: {e}"))
                })?;
                Value::Bytes(bytes)
            }
            J::Object(_) | J::Array(_) => Value::Json(json.clone()),
        })
    }

    /// True for SQL NULL.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            Value::Float(f) if f.is_nan() => serializer.serialize_str("NaN"),
            Value::Float(f) if *f > 0.0 => serializer.serialize_str("Infinity"),
            Value::Float(_) => serializer.serialize_str("-Infinity"),
            Value::Numeric(s) | Value::Text(s) => serializer.serialize_str(s),
            Value::Bytes(b) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BLOB_KEY, &BASE64.encode(b))?;
                map.end()
            }
            Value::Json(j) => j.serialize(serializer),
        }
    }
}

/// The type of a result column, as far as the backend can tell before the first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// Boolean.
    Bool,
    /// 64-bit integer.
    Int8,
    /// 64-bit float.
    Float8,
    /// Exact decimal.
    Numeric,
    /// Text.
    Text,
    /// Binary.
    Bytes,
    /// JSON.
    Json,
    /// No declared type (expressions on SQLite).
    Unknown,
}

impl ColumnType {
    /// Maps a SQLite declared type to a column type with SQLite's affinity rules
    /// (<https://sqlite.org/datatype3.html#determination_of_column_affinity>).
    #[must_use]
    pub fn from_sqlite_decl(decl: Option<&str>) -> Self {
        let Some(decl) = decl else {
            return ColumnType::Unknown;
        };
        let d = decl.to_ascii_uppercase();
        if d.starts_with("BOOL") {
            ColumnType::Bool
        } else if d.contains("INT") {
            ColumnType::Int8
        } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
            ColumnType::Text
        } else if d.contains("JSON") {
            ColumnType::Json
        } else if d.contains("BLOB") || d.is_empty() {
            ColumnType::Bytes
        } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
            ColumnType::Float8
        } else {
            ColumnType::Numeric
        }
    }
}

/// One result column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name as the statement produced it (duplicates allowed).
    pub name: String,
    /// Best-known type.
    pub ty: ColumnType,
    /// The type as the backend spelled it (SQLite `decltype`), for describe/introspection.
    pub source_type: Option<String>,
    /// The table column the value comes from, when the backend knows (a plain column
    /// reference); `None` for expressions. pgwire sends it in `RowDescription`.
    pub origin: Option<ColumnOrigin>,
}

/// The table column a result column reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOrigin {
    /// Table name, as the schema spells it.
    pub table: String,
    /// Column name in that table.
    pub column: String,
    /// 1-based position of the column in the table (PostgreSQL's `attnum`).
    pub position: i16,
}

/// A batch of rows; batches amortise channel and encoder overhead.
pub type Row = Vec<Value>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_encoding_of_every_variant() {
        let cases = [
            (Value::Null, json!(null)),
            (Value::Bool(true), json!(true)),
            (Value::Int(i64::MAX), json!(9_223_372_036_854_775_807_i64)),
            (Value::Int(-1), json!(-1)),
            (Value::Float(1.5), json!(1.5)),
            (Value::Float(f64::INFINITY), json!("Infinity")),
            (Value::Float(f64::NEG_INFINITY), json!("-Infinity")),
            (Value::Numeric("12.300".into()), json!("12.300")),
            (Value::Text("héllo \"x\"".into()), json!("héllo \"x\"")),
            (Value::Bytes(vec![0, 1, 255]), json!({"$blob": "AAH/"})),
            (Value::Json(json!({"a": [1]})), json!({"a": [1]})),
        ];
        for (value, expected) in cases {
            assert_eq!(serde_json::to_value(&value).unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn params_decode_and_blobs_round_trip() {
        let blob = Value::Bytes(b"\x00binary\xff".to_vec());
        let encoded = serde_json::to_value(&blob).unwrap();
        assert_eq!(Value::from_json_param(&encoded).unwrap(), blob);
        assert_eq!(
            Value::from_json_param(&json!(9_007_199_254_740_993_i64)).unwrap(),
            Value::Int(9_007_199_254_740_993)
        );
        assert_eq!(
            Value::from_json_param(&json!(2.5)).unwrap(),
            Value::Float(2.5)
        );
        assert_eq!(
            Value::from_json_param(&json!("s")).unwrap(),
            Value::Text("s".into())
        );
        assert_eq!(
            Value::from_json_param(&json!([1, 2])).unwrap(),
            Value::Json(json!([1, 2]))
        );
        let err = Value::from_json_param(&json!(u64::MAX)).unwrap_err();
        assert_eq!(err.code, SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
        let err = Value::from_json_param(&json!({"$blob": "***"})).unwrap_err();
        assert_eq!(err.code, SqlState::INVALID_PARAMETER_VALUE);
    }

    #[test]
    fn sqlite_affinity() {
        use ColumnType as T;
        for (decl, ty) in [
            ("INTEGER", T::Int8),
            ("bigint", T::Int8),
            ("VARCHAR(20)", T::Text),
            ("TEXT", T::Text),
            ("BLOB", T::Bytes),
            ("REAL", T::Float8),
            ("DOUBLE PRECISION", T::Float8),
            ("DECIMAL(10,2)", T::Numeric),
            ("BOOLEAN", T::Bool),
            ("JSON", T::Json),
        ] {
            assert_eq!(ColumnType::from_sqlite_decl(Some(decl)), ty, "{decl}");
        }
        assert_eq!(ColumnType::from_sqlite_decl(None), T::Unknown);
    }
}
