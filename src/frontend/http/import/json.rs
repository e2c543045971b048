//! Streaming JSON import into one table, in one transaction.
//!
//! Owns turning `{"data": [{col: value, …}, …], "columnMapping": {…}}` into multi-row INSERTs
//! through one import transaction (SQLite's writer lease or a pinned external session), with values decoded as `/query` parameters are (so a JSON export
//! imports back, BLOBs included). Rows that arrive before `columnMapping` wait for it, within
//! the request size limit; past that the import goes on without a mapping (and refuses one
//! that comes later), so a document of any size streams unless its mapping comes last.
//! Must not know HTTP.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value as Json};
use starbase_protocol::{DbError, Value};

use super::csv::insert_rows;
use super::json_scan::{Item, JsonScanner};
use crate::auth::Principal;
use crate::engine::Engine;
use crate::frontend::http::rest::schema::TableInfo;

/// Rows per INSERT at most (and parameters, see `csv`).
const MAX_ROWS: usize = 500;
const MAX_PARAMS: usize = 30_000;

/// Imports the JSON document from `body`; returns the number of rows imported.
///
/// # Errors
/// `22023` for a document that is not the documented shape (or rows waiting too long for
/// `columnMapping`), `22P02` for malformed JSON, `42703` for an unknown column, and any
/// insert error with the rows named; nothing is committed on error.
pub(in crate::frontend::http) async fn import(
    engine: &Engine,
    principal: &Principal,
    table: &TableInfo,
    mut body: impl Stream<Item = Result<Bytes, DbError>> + Unpin,
    max_bytes: usize,
) -> Result<u64, DbError> {
    tracing::debug!(
        role = principal.role.as_str(),
        table = table.name,
        "JSON import"
    );
    let mut scanner = JsonScanner::new();
    let mut mapping: Option<HashMap<String, String>> = None;
    // Rows waiting for `columnMapping`, kept as their JSON text (the compact form).
    let mut waiting: Vec<Vec<u8>> = Vec::new();
    let mut waiting_bytes = 0usize;
    let mut assumed = false;
    let mut batch = Batch::default();
    let mut lease = None;
    let mut rows = 0u64;
    let mut at_end = false;
    loop {
        match scanner.next_item()? {
            Some(Item::Mapping(_)) if assumed => {
                return Err(DbError::invalid_parameter(
                    "\"columnMapping\" came after more rows than the request limit holds: put it before \"data\"",
                ));
            }
            Some(Item::Mapping(text)) => {
                let map: HashMap<String, String> = serde_json::from_slice(&text).map_err(|e| {
                    DbError::invalid_parameter(format!(
                        "invalid \"columnMapping\": expected an object of strings: {e}"
                    ))
                })?;
                mapping = Some(map);
                for text in std::mem::take(&mut waiting) {
                    rows += 1;
                    let row = parse_row(&text)?;
                    batch
                        .add(engine, &mut lease, table, mapping.as_ref(), row, rows)
                        .await?;
                }
            }
            Some(Item::Row(text)) => {
                if mapping.is_none() && !at_end {
                    waiting_bytes += text.len();
                    if waiting_bytes <= max_bytes {
                        parse_row(&text)?;
                        waiting.push(text);
                        continue;
                    }
                    // Too many rows to hold: go on without a mapping; one arriving later
                    // is refused (and nothing is committed).
                    assumed = true;
                    mapping = Some(HashMap::new());
                    for text in std::mem::take(&mut waiting) {
                        rows += 1;
                        let row = parse_row(&text)?;
                        batch
                            .add(engine, &mut lease, table, mapping.as_ref(), row, rows)
                            .await?;
                    }
                }
                let row = parse_row(&text)?;
                rows += 1;
                batch
                    .add(engine, &mut lease, table, mapping.as_ref(), row, rows)
                    .await?;
            }
            None if at_end => break,
            None => {
                // Everything complete was taken: what is left is one unfinished item.
                if scanner.buffered() > max_bytes {
                    return Err(DbError::invalid_parameter(format!(
                        "a JSON row is longer than {max_bytes} bytes"
                    )));
                }
                match body.next().await {
                    Some(chunk) => scanner.feed(&chunk?),
                    None => at_end = true,
                }
            }
        }
    }
    scanner.finish()?;
    for text in std::mem::take(&mut waiting) {
        rows += 1;
        let row = parse_row(&text)?;
        batch
            .add(engine, &mut lease, table, mapping.as_ref(), row, rows)
            .await?;
    }
    batch.flush(engine, &mut lease, table, rows).await?;
    if let Some(lease) = lease {
        lease.commit().await.map_err(|e| e.to_client())?;
    }
    Ok(rows)
}

/// One element of `data`, which must be an object.
fn parse_row(text: &[u8]) -> Result<Map<String, Json>, DbError> {
    match serde_json::from_slice::<Json>(text) {
        Ok(Json::Object(row)) => Ok(row),
        Ok(_) => Err(DbError::invalid_parameter(
            "invalid JSON import: every element of \"data\" must be an object",
        )),
        Err(e) => Err(DbError::invalid_parameter(format!("invalid row: {e}"))),
    }
}

/// Rows with the same columns, waiting to be inserted together.
#[derive(Default)]
struct Batch {
    columns: Vec<String>,
    values: Vec<Value>,
}

impl Batch {
    async fn add(
        &mut self,
        engine: &Engine,
        lease: &mut Option<crate::engine::ImportTxn>,
        table: &TableInfo,
        mapping: Option<&HashMap<String, String>>,
        row: Map<String, Json>,
        row_no: u64,
    ) -> Result<(), DbError> {
        let mut columns = Vec::with_capacity(row.len());
        let mut values = Vec::with_capacity(row.len());
        for (key, value) in &row {
            let name = mapping.and_then(|m| m.get(key)).unwrap_or(key);
            columns.push(table.column(name)?.name.clone());
            values.push(Value::from_json_param(value)?);
        }
        if columns.is_empty() {
            return Err(DbError::invalid_parameter(format!(
                "row {row_no} has no columns"
            )));
        }
        let full = self.values.len() / self.columns.len().max(1) >= MAX_ROWS
            || self.values.len() + values.len() > MAX_PARAMS;
        if columns != self.columns || full {
            self.flush(engine, lease, table, row_no - 1).await?;
            self.columns = columns;
        }
        self.values.extend(values);
        Ok(())
    }

    async fn flush(
        &mut self,
        engine: &Engine,
        lease: &mut Option<crate::engine::ImportTxn>,
        table: &TableInfo,
        last_row: u64,
    ) -> Result<(), DbError> {
        if self.values.is_empty() {
            return Ok(());
        }
        if lease.is_none() {
            *lease = Some(
                engine
                    .begin_import(&table.target)
                    .await
                    .map_err(|e| e.to_client())?,
            );
        }
        let values = std::mem::take(&mut self.values);
        match lease.as_mut() {
            Some(lease) => {
                insert_rows(
                    engine,
                    lease,
                    table,
                    &self.columns,
                    values,
                    last_row,
                    "JSON rows",
                )
                .await
            }
            None => Ok(()),
        }
    }
}
