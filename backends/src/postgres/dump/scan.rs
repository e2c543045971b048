//! A PostgreSQL table's rows as `pg_dump` writes them: one `COPY … FROM stdin;` block of
//! `COPY` text lines ended by `\.`, read from the server with `COPY … TO STDOUT`.
//!
//! Owns the `COPY` statements a scan sends and moving their bytes to the sink: the server
//! formats every value (under the snapshot's exact-text settings), and the bytes go out
//! as they arrive, in writes of at most about [`FLUSH_BYTES`] or [`DUMP_BATCH_ROWS`] lines,
//! so memory holds one write whatever the table's size.
//! - A keyed table is read in key order by `COPY (SELECT <columns> FROM ONLY t WHERE
//!   (<key>) > (<last key>) ORDER BY <key> LIMIT n) TO STDOUT` statements of up to
//!   [`COPY_SEGMENT_ROWS`] rows, each left open across the scans that continue where the
//!   last one stopped ([`OpenCopy`]): a scan stops after the rows it was asked for and the
//!   next one reads on, so the server keeps streaming as `pg_dump`'s one `COPY` does,
//!   instead of draining the connection and planning a new statement every page. `COPY`
//!   takes no parameters, so the last key is inlined as `'…'::type` literals decoded from
//!   the last line a scan wrote; a key column that is not among the copied columns (a
//!   generated one) makes the table keyless instead. A scan that starts anywhere else (a
//!   part written again after a failed upload) reads the open statement's rest away and
//!   starts a new one. Sorts are turned off for these statements ([`keyset_plans`]).
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

use std::pin::Pin;

use bytes::Bytes;
use futures_util::StreamExt;
use starbase_protocol::DbError;
use tokio_postgres::CopyOutStream;

use super::PgDump;
use super::copy_text::{LastLine, key_literals};
use crate::dump::{DUMP_BATCH_ROWS, DumpKey, DumpSink, DumpTable, ScanEnd, pg_ident};
use crate::error::Error;

/// Rows a scan asks for at most, by default: how often the caller gets a checkpoint key.
pub(super) const COPY_PAGE_ROWS: u64 = 50_000;
/// Rows of one keyset `COPY` statement: a new statement costs a drained connection, a
/// round trip and a plan; a scan that restarts elsewhere reads at most this many rows away.
const COPY_SEGMENT_ROWS: u64 = 1_000_000;
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

    /// Takes `chunk` (whole lines, or the rest of one), flushing when full.
    async fn push<S: DumpSink>(
        &mut self,
        chunk: &[u8],
        lines: u64,
        sink: &mut S,
    ) -> Result<(), Error> {
        self.rows += lines;
        self.buf.extend_from_slice(chunk);
        if self.full() {
            self.flush(sink).await?;
        }
        Ok(())
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

/// A keyset `COPY` statement still sending rows, kept between the scans of its table.
pub(super) struct OpenCopy {
    /// The table's oid.
    oid: u32,
    stream: Pin<Box<CopyOutStream>>,
    /// The key of the last line read: the stream continues after it.
    at: Option<DumpKey>,
    /// Rows the statement may still send (its `LIMIT` less the rows read).
    left: u64,
    /// The part of a chunk after the line a scan stopped at.
    pending: Option<Bytes>,
}

impl std::fmt::Debug for OpenCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenCopy")
            .field("oid", &self.oid)
            .field("at", &self.at)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// How a read of an open statement ended.
struct Read {
    rows: u64,
    /// The statement sent its last row.
    ended: bool,
}

impl OpenCopy {
    /// Starts the statement for the rows of `table` after `after`.
    async fn start(
        dump: &PgDump,
        table: &DumpTable,
        key: &[String],
        after: Option<&DumpKey>,
    ) -> Result<Self, Error> {
        let sql = page(table, key, after, COPY_SEGMENT_ROWS);
        let stream = dump
            .client()?
            .copy_out(&sql)
            .await
            .map_err(|e| dump.fail(&e))?;
        Ok(Self {
            oid: table.detail.oid,
            stream: Box::pin(stream),
            at: after.cloned(),
            left: COPY_SEGMENT_ROWS,
            pending: None,
        })
    }

    /// Moves up to `wanted` lines into `out`, following them in `last`.
    async fn read<S: DumpSink>(
        &mut self,
        dump: &PgDump,
        wanted: u64,
        (out, last): (&mut Outbox, &mut LastLine),
        sink: &mut S,
    ) -> Result<Read, Error> {
        let mut rows = 0;
        while rows < wanted {
            let chunk = match self.pending.take() {
                Some(chunk) => chunk,
                None => match self.stream.next().await {
                    Some(chunk) => chunk.map_err(|e| dump.fail(&e))?,
                    None => return Ok(Read { rows, ended: true }),
                },
            };
            let (taken, lines) = last.feed_at_most(&chunk, wanted - rows);
            let mut take = chunk;
            if taken < take.len() {
                self.pending = Some(take.split_off(taken));
            }
            rows += lines;
            self.left = self.left.saturating_sub(lines);
            out.push(&take, lines, sink).await?;
        }
        Ok(Read { rows, ended: false })
    }

    /// Reads the statement's remaining rows away, so the connection can take the next one.
    async fn discard(mut self, dump: &PgDump) -> Result<(), Error> {
        while let Some(chunk) = self.stream.next().await {
            chunk.map_err(|e| dump.fail(&e))?;
        }
        Ok(())
    }
}

/// Writes the rows of `table` after `after` (see the module doc and `DumpSource::scan`).
pub(super) async fn scan<S: DumpSink>(
    dump: &mut PgDump,
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
        let rows = copy_whole(dump, table, &mut out, sink).await?;
        out.buf.extend_from_slice(END_OF_DATA);
        out.flush(sink).await?;
        return Ok(ScanEnd {
            rows,
            last_key: None,
            complete: true,
        });
    };
    let mut end = ScanEnd {
        rows: 0,
        last_key: after.cloned(),
        complete: false,
    };
    let mut last = LastLine::default();
    loop {
        let wanted = max_rows.map_or(u64::MAX, |max| max.saturating_sub(end.rows));
        if wanted == 0 {
            break;
        }
        if !dump.sorts_off {
            keyset_plans(dump).await?;
        }
        let mut open = match dump.open.take() {
            Some(open) if open.oid == table.detail.oid && open.at == end.last_key => open,
            other => {
                if let Some(stale) = other {
                    stale.discard(dump).await?;
                }
                OpenCopy::start(dump, table, key, end.last_key.as_ref()).await?
            }
        };
        let read = open.read(dump, wanted, (&mut out, &mut last), sink).await?;
        end.rows += read.rows;
        if read.rows > 0 {
            let at = DumpKey(key_literals(
                last.last(),
                &table.detail.key_fields,
                &table.detail.key_types,
            )?);
            end.last_key = Some(at.clone());
            open.at = Some(at);
        }
        if !read.ended {
            dump.open = Some(open);
        } else if open.left > 0 {
            // Fewer rows than the statement's `LIMIT`: the table has no more.
            end.complete = true;
            out.buf.extend_from_slice(END_OF_DATA);
            break;
        }
        // A statement that sent all its rows is followed by the next one, if more are wanted.
    }
    out.flush(sink).await?;
    Ok(end)
}

/// Turns `enable_sort` off in the snapshot, until the epilogue: a keyset statement then
/// reads the primary key's index in order, where the planner could otherwise choose to scan
/// and sort a table whose rows lie out of key order, before the first row and again for
/// every statement. Catalog queries need their sorts, hence not for the whole snapshot.
async fn keyset_plans(dump: &mut PgDump) -> Result<(), Error> {
    dump.batch("SET LOCAL enable_sort = off").await?;
    dump.sorts_off = true;
    Ok(())
}

/// Runs one `COPY` of a whole table without a key, moving its lines through `out`.
async fn copy_whole<S: DumpSink>(
    dump: &PgDump,
    table: &DumpTable,
    out: &mut Outbox,
    sink: &mut S,
) -> Result<u64, Error> {
    let stream = dump
        .client()?
        .copy_out(&whole_table(table))
        .await
        .map_err(|e| dump.fail(&e))?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| dump.fail(&e))?;
        let lines = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        rows += lines;
        out.push(&chunk, lines, sink).await?;
    }
    Ok(rows)
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
