//! Streaming CSV import into one table, in one transaction.
//!
//! Owns reading CSV records as the body arrives, mapping the header to the table's columns
//! (`columnMapping` renames), decoding fields (the inverse of the CSV export: empty unquoted
//! field → NULL, unquoted integer/float → number, unquoted `\x…` → BLOB, anything else → text),
//! and inserting in multi-row batches through one import transaction (SQLite's writer lease or a pinned external session). Memory holds one batch and one
//! record; nothing commits unless every record went in. Must not know HTTP.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use starbase_protocol::csv::{CsvReader, Field};
use starbase_protocol::{DbError, ExecMode, Params, Plan, SqlState, Statement, Value};

use crate::auth::Principal;
use crate::engine::Engine;
use crate::frontend::http::rest::schema::{TableInfo, collect};

/// SQLite accepts up to 32766 parameters per statement; stay well below.
const MAX_PARAMS: usize = 30_000;
/// Rows per INSERT at most.
const MAX_ROWS: usize = 500;

/// Imports CSV from `body` into `table`; returns the number of records imported.
///
/// # Errors
/// `22P02` for malformed CSV or a record with the wrong number of fields, `42703` for a
/// header naming no column, `22023` for an empty body or a record over `max_record_bytes`,
/// and any insert error; the detail names the record. Nothing is committed on error.
pub(in crate::frontend::http) async fn import(
    engine: &Engine,
    principal: &Principal,
    table: &TableInfo,
    mapping: &HashMap<String, String>,
    mut body: impl Stream<Item = Result<Bytes, DbError>> + Unpin,
    max_record_bytes: usize,
) -> Result<u64, DbError> {
    tracing::debug!(
        role = principal.role.as_str(),
        table = table.name,
        "CSV import"
    );
    let mut reader = CsvReader::new();
    let mut lease = None;
    let mut columns: Option<Vec<String>> = None;
    let mut batch: Vec<Value> = Vec::new();
    let mut record_no = 0u64;
    let mut at_end = false;
    loop {
        let record = reader.next_record(at_end)?;
        let Some(record) = record else {
            if at_end {
                break;
            }
            // Every complete record was taken: what is left is one unfinished record.
            if reader.buffered() > max_record_bytes {
                return Err(DbError::invalid_parameter(format!(
                    "a CSV record is longer than {max_record_bytes} bytes"
                )));
            }
            match body.next().await {
                Some(chunk) => reader.feed(&chunk?),
                None => at_end = true,
            }
            continue;
        };
        let Some(names) = &columns else {
            columns = Some(header(table, mapping, record)?);
            continue;
        };
        record_no += 1;
        if record.len() != names.len() {
            return Err(DbError::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!(
                    "CSV record {record_no} has {} fields, the header has {}",
                    record.len(),
                    names.len()
                ),
            ));
        }
        batch.extend(record.into_iter().map(decode));
        let rows = batch.len() / names.len();
        if rows >= MAX_ROWS || batch.len() + names.len() > MAX_PARAMS {
            if lease.is_none() {
                lease = Some(
                    engine
                        .begin_import(&table.target)
                        .await
                        .map_err(|e| e.to_client())?,
                );
            }
            if let Some(lease) = lease.as_mut() {
                insert_rows(
                    engine,
                    lease,
                    table,
                    names,
                    std::mem::take(&mut batch),
                    record_no,
                    "CSV records",
                )
                .await?;
            }
        }
    }
    let names =
        columns.ok_or_else(|| DbError::invalid_parameter("no CSV data: expected a header row"))?;
    if !batch.is_empty() {
        if lease.is_none() {
            lease = Some(
                engine
                    .begin_import(&table.target)
                    .await
                    .map_err(|e| e.to_client())?,
            );
        }
        if let Some(lease) = lease.as_mut() {
            insert_rows(
                engine,
                lease,
                table,
                &names,
                batch,
                record_no,
                "CSV records",
            )
            .await?;
        }
    }
    if let Some(lease) = lease {
        lease.commit().await.map_err(|e| e.to_client())?;
    }
    Ok(record_no)
}

/// The table's columns named by the header, after `columnMapping`.
fn header(
    table: &TableInfo,
    mapping: &HashMap<String, String>,
    record: Vec<Field>,
) -> Result<Vec<String>, DbError> {
    record
        .into_iter()
        .map(|f| {
            let name = mapping.get(&f.text).unwrap_or(&f.text);
            table.column(name).map(|c| c.name.clone())
        })
        .collect()
}

/// One field as a value (the inverse of the CSV export's encoding).
fn decode(field: Field) -> Value {
    if field.quoted {
        return Value::Text(field.text);
    }
    let text = field.text;
    if text.is_empty() {
        return Value::Null;
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Int(i);
    }
    if let Some(bytes) = text.strip_prefix("\\x").and_then(decode_hex) {
        return Value::Bytes(bytes);
    }
    if text.bytes().any(|b| b.is_ascii_digit())
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Text(text)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Inserts `values` (rows of `names.len()` values) with one multi-row INSERT; an error
/// names the rows (`what` first to `last_record`).
pub(super) async fn insert_rows(
    engine: &Engine,
    lease: &mut crate::engine::ImportTxn,
    table: &TableInfo,
    names: &[String],
    values: Vec<Value>,
    last_record: u64,
    what: &str,
) -> Result<(), DbError> {
    let rows = values.len() / names.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        table.qualified(),
        names
            .iter()
            .map(|n| table.quote(n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..names.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(
            sql,
            engine.dialect(&table.target),
            Params::Positional(values),
        )],
    };
    let first = last_record + 1 - rows as u64;
    let stream = lease.execute(plan).await.map_err(|e| e.to_client())?;
    collect(stream).await.map(drop).map_err(|e| {
        let detail = format!("in {what} {first} to {last_record}");
        DbError {
            detail: Some(detail),
            ..e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, quoted: bool) -> Field {
        Field {
            text: text.into(),
            quoted,
        }
    }

    #[test]
    fn decoding_inverts_the_export() {
        assert_eq!(decode(field("", false)), Value::Null);
        assert_eq!(decode(field("", true)), Value::Text(String::new()));
        assert_eq!(decode(field("42", false)), Value::Int(42));
        assert_eq!(decode(field("42", true)), Value::Text("42".into()));
        assert_eq!(decode(field("-1.5", false)), Value::Float(-1.5));
        assert_eq!(decode(field("1e+300", false)), Value::Float(1e300));
        assert_eq!(decode(field("\\x00ff", false)), Value::Bytes(vec![0, 255]));
        assert_eq!(decode(field("\\x", false)), Value::Bytes(vec![]));
        assert_eq!(decode(field("\\xzz", false)), Value::Text("\\xzz".into()));
        assert_eq!(decode(field("inf", false)), Value::Text("inf".into()));
        assert_eq!(decode(field("plain", false)), Value::Text("plain".into()));
    }
}
