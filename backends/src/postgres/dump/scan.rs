//! A PostgreSQL table's rows as `pg_dump` writes them: one `COPY … FROM stdin;` block of
//! `COPY` text lines ended by `\.`, read from the server with `COPY … TO STDOUT`.
//!
//! Owns the `COPY` statements a scan sends and moving their bytes to the sink: the server
//! formats every value (under the snapshot's exact-text settings), and the bytes go out
//! as they arrive, in writes of at most about [`FLUSH_BYTES`] or [`DUMP_BATCH_ROWS`] lines,
//! so memory holds one write whatever the table's size.
//! - A keyed table is read in keyset pages, `COPY (SELECT <columns> FROM ONLY t WHERE
//!   (<key>) > (<last key>) ORDER BY <key> LIMIT n) TO STDOUT` (at most [`COPY_PAGE_ROWS`]
//!   rows, or what the caller asked for). `COPY` takes no parameters, so the last key is
//!   inlined as `'…'::type` literals decoded from the page's last line; a key column that
//!   is not among the copied columns (a generated one) makes the table keyless instead.
//! - A keyless table is one `COPY t (<columns>) TO STDOUT` (physical order: the snapshot
//!   turns `synchronize_seqscans` off, so two dumps of the same data agree), which the
//!   caller may cut into parts at any write, all of them ending at a line. Paging it by
//!   `ctid` would need the `ctid` of each page's last row, a column the block must not
//!   carry, and a `ctid` is only valid in its snapshot anyway (no resume across runs).
//!
//! The block's header is written by the scan starting from the first row (`after` is
//! `None`) and its `\.` by the scan that reaches the end, so the scans of one table, in
//! whatever pages or parts, join into one block. An empty table is a header and `\.`,
//! as `pg_dump` writes it. Must not know where the sink's bytes go.

use futures_util::StreamExt;
use starbase_protocol::DbError;

use super::PgDump;
use super::copy_text::{LastLine, key_literals};
use crate::dump::{DUMP_BATCH_ROWS, DumpKey, DumpSink, DumpTable, ScanEnd, pg_ident};
use crate::error::Error;

/// Rows per keyset page (one `COPY` statement each): a statement costs a round trip, a
/// plan and an index descent, about what a few thousand rows of output cost.
pub(super) const COPY_PAGE_ROWS: u64 = 50_000;
/// A write to the sink once the lines waiting reach this size.
const FLUSH_BYTES: usize = 64 * 1024;
/// The end of a block's data.
const END_OF_DATA: &[u8] = b"\\.\n";

/// Lines waiting for the sink, with the rows they hold.
struct Outbox {
    buf: Vec<u8>,
    rows: u64,
}

impl Outbox {
    fn new() -> Self {
        Self {
            buf: Vec::with_capacity(FLUSH_BYTES + 1024),
            rows: 0,
        }
    }

    fn full(&self) -> bool {
        self.buf.len() >= FLUSH_BYTES || self.rows >= DUMP_BATCH_ROWS as u64
    }

    async fn flush<S: DumpSink>(&mut self, sink: &mut S) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(FLUSH_BYTES + 1024));
        // `client_encoding` is UTF8 and bytea is hex: the server's text is UTF-8.
        let text = String::from_utf8(bytes)
            .map_err(|_| DbError::internal("the COPY output of a dump is not UTF-8"))?;
        sink.write(text, std::mem::take(&mut self.rows)).await
    }
}

/// What one `COPY … TO STDOUT` returned.
struct Copied {
    rows: u64,
    /// The key of its last line, when asked for and there was one.
    last_key: Option<DumpKey>,
}

/// Writes the rows of `table` after `after` (see the module doc and `DumpSource::scan`).
pub(super) async fn scan<S: DumpSink>(
    dump: &PgDump,
    table: &DumpTable,
    after: Option<&DumpKey>,
    max_rows: Option<u64>,
    sink: &mut S,
) -> Result<ScanEnd, Error> {
    let mut out = Outbox::new();
    if after.is_none() {
        header(&mut out.buf, table);
    }
    let Some(key) = &table.key else {
        let copied = copy(dump, &whole_table(table), None, &mut out, sink).await?;
        out.buf.extend_from_slice(END_OF_DATA);
        out.flush(sink).await?;
        return Ok(ScanEnd {
            rows: copied.rows,
            last_key: None,
            complete: true,
        });
    };
    let mut end = ScanEnd {
        rows: 0,
        last_key: after.cloned(),
        complete: false,
    };
    loop {
        let wanted = max_rows.map_or(COPY_PAGE_ROWS, |max| max.saturating_sub(end.rows));
        let limit = wanted.clamp(1, COPY_PAGE_ROWS);
        let sql = page(table, key, end.last_key.as_ref(), limit);
        let copied = copy(dump, &sql, Some(table), &mut out, sink).await?;
        end.rows += copied.rows;
        if copied.last_key.is_some() {
            end.last_key = copied.last_key;
        }
        if copied.rows < limit {
            end.complete = true;
            out.buf.extend_from_slice(END_OF_DATA);
            break;
        }
        if max_rows.is_some_and(|max| end.rows >= max) {
            break;
        }
    }
    out.flush(sink).await?;
    Ok(end)
}

/// Runs one `COPY … TO STDOUT`, moving its lines through `out`; with `keyed`, decodes the
/// last line's key.
async fn copy<S: DumpSink>(
    dump: &PgDump,
    sql: &str,
    keyed: Option<&DumpTable>,
    out: &mut Outbox,
    sink: &mut S,
) -> Result<Copied, Error> {
    let stream = dump
        .client()?
        .copy_out(sql)
        .await
        .map_err(|e| dump.fail(&e))?;
    let mut stream = std::pin::pin!(stream);
    let mut last = LastLine::default();
    let mut rows = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| dump.fail(&e))?;
        let lines = last.feed(&chunk);
        rows += lines;
        out.rows += lines;
        out.buf.extend_from_slice(&chunk);
        if out.full() {
            out.flush(sink).await?;
        }
    }
    let last_key = match keyed {
        Some(table) if rows > 0 => Some(DumpKey(key_literals(
            last.last(),
            &table.detail.key_fields,
            &table.detail.key_types,
        )?)),
        _ => None,
    };
    Ok(Copied { rows, last_key })
}

/// `COPY "s"."t" ("a", …) FROM stdin;` and its newline (no list for a table without
/// columns to copy: its lines are empty).
fn header(out: &mut Vec<u8>, table: &DumpTable) {
    let mut sql = String::from("COPY ");
    super::qualified(&mut sql, table);
    column_list(&mut sql, table);
    sql.push_str(" FROM stdin;\n");
    out.extend_from_slice(sql.as_bytes());
}

/// ` ("a", "b")`, or nothing for no columns.
fn column_list(out: &mut String, table: &DumpTable) {
    if table.columns.is_empty() {
        return;
    }
    out.push_str(" (");
    names(out, &table.columns);
    out.push(')');
}

fn names(out: &mut String, names: &[String]) {
    for (i, c) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        pg_ident(out, c);
    }
}

/// The whole table in physical order (`COPY` of a table reads only that table, as `ONLY`).
fn whole_table(table: &DumpTable) -> String {
    let mut sql = String::from("COPY ");
    super::qualified(&mut sql, table);
    column_list(&mut sql, table);
    sql.push_str(" TO STDOUT");
    sql
}

/// One keyset page of at most `limit` rows after `after`.
fn page(table: &DumpTable, key: &[String], after: Option<&DumpKey>, limit: u64) -> String {
    let mut sql = String::from("COPY (SELECT ");
    names(&mut sql, &table.columns);
    sql.push_str(" FROM ONLY ");
    super::qualified(&mut sql, table);
    if let Some(after) = after {
        sql.push_str(" WHERE (");
        names(&mut sql, key);
        sql.push_str(") > (");
        sql.push_str(after.as_str());
        sql.push(')');
    }
    sql.push_str(" ORDER BY ");
    names(&mut sql, key);
    sql.push_str(&format!(" LIMIT {limit}) TO STDOUT"));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::TableDetail;

    fn table(columns: &[&str], key: Option<&[&str]>) -> DumpTable {
        DumpTable {
            schema: Some("s".into()),
            name: "t\"x".into(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            key: key.map(|k| k.iter().map(|c| (*c).to_owned()).collect()),
            detail: TableDetail::default(),
        }
    }

    #[test]
    fn statements_quote_every_name() {
        let keyed = table(&["id", "v"], Some(&["id", "v"]));
        let mut head = Vec::new();
        header(&mut head, &keyed);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "COPY \"s\".\"t\"\"x\" (\"id\", \"v\") FROM stdin;\n"
        );
        assert_eq!(
            page(&keyed, keyed.key.as_deref().unwrap(), None, 5),
            "COPY (SELECT \"id\", \"v\" FROM ONLY \"s\".\"t\"\"x\" ORDER BY \"id\", \"v\" LIMIT 5) TO STDOUT"
        );
        let after = DumpKey("'1'::integer, 'a'::text".into());
        assert_eq!(
            page(&keyed, keyed.key.as_deref().unwrap(), Some(&after), 5),
            "COPY (SELECT \"id\", \"v\" FROM ONLY \"s\".\"t\"\"x\" WHERE (\"id\", \"v\") > \
             ('1'::integer, 'a'::text) ORDER BY \"id\", \"v\" LIMIT 5) TO STDOUT"
        );
        let empty = table(&[], None);
        let mut head = Vec::new();
        header(&mut head, &empty);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "COPY \"s\".\"t\"\"x\" FROM stdin;\n"
        );
        assert_eq!(whole_table(&empty), "COPY \"s\".\"t\"\"x\" TO STDOUT");
    }
}
