//! The dump job's data: formats, requests, keys, parts and the manifest.
//!
//! Owns the types every stage shares and their JSON forms (the request body, the stored job
//! plan, the manifest written last). Must not know storage, SQL or HTTP.

use serde::{Deserialize, Serialize};
use starbase_protocol::{DbError, Value};

/// A dump's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// SQL statements loadable by the backend the dump came from.
    #[default]
    Sql,
    /// RFC 4180 CSV, one file per table.
    Csv,
    /// JSON: an object of tables, each an array of row objects.
    Json,
}

impl Format {
    /// The file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Format::Sql => "sql",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// Parses `sql`, `csv` or `json`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "sql" => Some(Format::Sql),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The download's content type.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Sql => "application/sql; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// What the client asked for (`POST /export/dump`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpRequest {
    /// Output format (default `sql`).
    #[serde(default)]
    pub format: Format,
    /// Where to POST the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Rows per page (overrides `DUMP_CHUNK_SIZE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<u64>,
    /// Include `CREATE` statements (SQL format; default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_schema: Option<bool>,
    /// Only these tables, in this order (default: every table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
}

/// A job's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepted, not started yet.
    Pending,
    /// Running (or interrupted by a stop, resumed at the next start).
    Processing,
    /// The manifest is written.
    Completed,
    /// Stopped with an error (resumable on request).
    Failed,
}

impl JobStatus {
    /// The status word of the API and the metadata table.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
        }
    }

    /// Parses a stored status word.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(JobStatus::Pending),
            "processing" => Some(JobStatus::Processing),
            "completed" => Some(JobStatus::Completed),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// One unit of the dump: the schema, a table, or the closing statements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    /// What it is.
    pub kind: UnitKind,
    /// Table name as the source spells it (empty for schema and post units).
    pub name: String,
    /// Schema-qualified, quoted name for the source's SQL.
    #[serde(default)]
    pub qualified: String,
    /// Columns written, in order.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Key expressions (quoted), in order; empty: the table is read in one pass.
    #[serde(default)]
    pub key: Vec<String>,
}

/// Kinds of unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// `CREATE TABLE` statements (SQL, before the data).
    Schema,
    /// One table's rows.
    Table,
    /// Counters, indexes, views and triggers (SQL, after the data).
    Post,
}

/// The job's plan, fixed at its first run so that a resumed job writes the same units.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobPlan {
    /// Units in output order.
    pub units: Vec<Unit>,
    /// SQLite: the schema rows (type, name, sql) the SQL format writes.
    #[serde(default)]
    pub schema: Vec<SchemaObject>,
    /// SQLite: the AUTOINCREMENT counters exist.
    #[serde(default)]
    pub has_sequence: bool,
}

/// One `sqlite_schema` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaObject {
    /// `table`, `index`, `view`, `trigger`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The table it belongs to (its own name for a table).
    #[serde(default)]
    pub table: String,
    /// Its `CREATE` statement.
    pub sql: String,
}

impl SchemaObject {
    /// A table holding rows (not virtual).
    #[must_use]
    pub fn is_data_table(&self) -> bool {
        self.kind == "table" && !self.sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL")
    }
}

/// A finished part, as recorded in the checkpoint and the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartRecord {
    /// Position in the dump (0-based).
    pub seq: u64,
    /// Index of its unit in the plan.
    pub unit: usize,
    /// Number within its unit (1-based).
    pub part_no: u64,
    /// Object path.
    pub path: String,
    /// Data rows it holds.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Bytes of the part's own header (CSV header row, `[`), skipped when parts are joined.
    pub head: u64,
    /// Bytes of the part's own footer (`]`), skipped when parts are joined.
    pub tail: u64,
    /// The key of its last row (tagged JSON), to continue after; `None` once the unit is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<serde_json::Value>,
    /// The unit ends with this part.
    pub unit_done: bool,
}

/// The manifest without its parts. Written last, the manifest is what makes a dump
/// complete: in storage it is this object followed by `parts`, every part in output order
/// (as [`ManifestPart`]), which is written a page of records at a time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestHead {
    /// Manifest layout version.
    pub version: u32,
    /// The job's key.
    pub dump_id: String,
    /// The format.
    pub format: Format,
    /// The source's name (`internal` for the embedded database).
    pub source: String,
    /// When the job was accepted (RFC 3339).
    pub created_at: String,
    /// When the manifest was written (RFC 3339).
    pub completed_at: String,
    /// Data rows.
    pub total_rows: u64,
    /// Bytes of all parts.
    pub total_bytes: u64,
    /// Per table: rows, bytes, parts.
    pub tables: Vec<ManifestTable>,
    /// The schema's `CREATE` statements (SQLite sources).
    #[serde(default)]
    pub schema: Vec<String>,
}

/// A table in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestTable {
    /// Table name.
    pub name: String,
    /// Rows dumped.
    pub rows: u64,
    /// Bytes of its parts.
    pub bytes: u64,
    /// Its columns.
    pub columns: Vec<String>,
}

/// A part in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestPart {
    /// `schema`, `table` or `post`.
    pub kind: UnitKind,
    /// The table (empty for schema and post parts).
    pub table: String,
    /// Object path.
    pub path: String,
    /// Data rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Header bytes (skipped when a table's parts are joined).
    pub head: u64,
    /// Footer bytes (skipped when a table's parts are joined).
    pub tail: u64,
}

/// Encodes a key value for the checkpoint: tagged, so that every type comes back exactly.
#[must_use]
pub fn key_to_json(values: &[Value]) -> serde_json::Value {
    use base64::Engine as _;
    let tag = |v: &Value| -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::json!({ "b": b }),
            Value::Int(i) => serde_json::json!({ "i": i.to_string() }),
            Value::Float(f) => serde_json::json!({ "f": f.to_bits().to_string() }),
            Value::Bytes(b) => {
                serde_json::json!({ "x": base64::engine::general_purpose::STANDARD.encode(b) })
            }
            Value::Text(s) | Value::Numeric(s) => serde_json::json!({ "t": s }),
            Value::Json(j) => serde_json::json!({ "t": j.to_string() }),
            other => serde_json::json!({ "t": format!("{other:?}") }),
        }
    };
    serde_json::Value::Array(values.iter().map(tag).collect())
}

/// Decodes [`key_to_json`].
///
/// # Errors
/// `XX000` for a checkpoint that is not in that form.
pub fn key_from_json(json: &serde_json::Value) -> Result<Vec<Value>, DbError> {
    use base64::Engine as _;
    let bad = || DbError::internal("a dump checkpoint key is damaged");
    let items = json.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|item| {
            if item.is_null() {
                return Ok(Value::Null);
            }
            let obj = item.as_object().ok_or_else(bad)?;
            let (tag, v) = obj.iter().next().ok_or_else(bad)?;
            let text = || v.as_str().ok_or_else(bad);
            Ok(match tag.as_str() {
                "b" => Value::Bool(v.as_bool().ok_or_else(bad)?),
                "i" => Value::Int(text()?.parse().map_err(|_| bad())?),
                "f" => Value::Float(f64::from_bits(text()?.parse().map_err(|_| bad())?)),
                "x" => Value::Bytes(
                    base64::engine::general_purpose::STANDARD
                        .decode(text()?)
                        .map_err(|_| bad())?,
                ),
                "t" => Value::Text(text()?.to_owned()),
                _ => return Err(bad()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_exactly() {
        let key = vec![
            Value::Int(i64::MIN),
            Value::Float(0.1),
            Value::Text("it's".into()),
            Value::Bytes(vec![0, 255]),
            Value::Null,
        ];
        assert_eq!(key_from_json(&key_to_json(&key)).unwrap(), key);
        assert!(key_from_json(&serde_json::json!({"i": 1})).is_err());
    }
}
