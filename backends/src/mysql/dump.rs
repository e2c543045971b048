//! MySQL/MariaDB dumps: `MySqlDump` (a `DumpSource`) and `MySqlLoad` (one script load).
//!
//! Owns reading one snapshot (`START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` at
//! `REPEATABLE READ` on one pinned connection) of the connection's database and rendering it
//! for the `mariadb`/`mysql` client: session settings (`FOREIGN_KEY_CHECKS=0`,
//! `UNIQUE_CHECKS=0`, `SQL_MODE='NO_AUTO_VALUE_ON_ZERO'`, `TIME_ZONE='+00:00'`, the same zone
//! the rows are read in), `SHOW CREATE TABLE` for every base table (foreign keys inline,
//! `AUTO_INCREMENT` counters included), the rows as multi-row `INSERT`s in one transaction,
//! then views (dependency order), routines and triggers (`SHOW CREATE …` without the
//! `DEFINER`, so any user can load them; bodies between `DELIMITER ;;` lines), and the old
//! settings back. Names are unqualified, so the script loads into whatever database the
//! client uses. Rows are read with the text protocol (the server's own text of every value)
//! and written as literals: numbers as sent, binary strings and BIT/geometry as `0x…`,
//! everything else quoted with the client's backslash escapes. Tables with a primary key
//! are read in key order by keyset pages; a table without one in a single streamed pass
//! (`net_write_timeout` raised so a reader pacing itself is not cut off).
//! MariaDB sequences and system-versioned tables are refused with `0A000`. Must not know
//! any frontend.

mod catalog;
mod load;
pub mod split;

use mysql_async::prelude::Queryable;
use starbase_protocol::Dialect;

pub use self::load::MySqlLoad;
use super::MySqlBackend;
use super::pool::MySqlConn;
use crate::dump::{
    DUMP_BATCH_ROWS, DumpKey, DumpSink, DumpSource, DumpTable, LiteralKind, ScanEnd, my_ident,
};
use crate::error::Error;
use crate::external::conn::Conn as _;

/// Separates the literals of a composite key inside a `DumpKey` (never inside a literal:
/// NUL is always escaped).
const KEY_SEPARATOR: char = '\0';

/// A snapshot of a MySQL database being dumped (see the module doc).
#[derive(Debug)]
pub struct MySqlDump {
    conn: Option<MySqlConn>,
}

impl MySqlBackend {
    /// Opens a dump: a pooled connection inside a consistent read-only snapshot.
    ///
    /// # Errors
    /// `08006`/`53300` when no connection can be had; the server's errors.
    pub async fn open_dump(&self) -> Result<MySqlDump, Error> {
        let conn = self.source.get().await?;
        let mut dump = MySqlDump { conn: Some(conn) };
        for sql in [
            "SET SESSION sql_mode = ''",
            "SET NAMES utf8mb4",
            // A keyless table is one streamed query the dump reads at its own pace (it
            // waits on storage between statements): the server must not give up on it.
            "SET SESSION net_write_timeout = 3600",
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ] {
            dump.execute(sql).await?;
        }
        Ok(dump)
    }

    /// Opens a load: a pooled connection with `autocommit` off (closed, not pooled, at the
    /// end).
    ///
    /// # Errors
    /// `08006`/`53300` when no connection can be had.
    pub async fn open_load(&self) -> Result<MySqlLoad, Error> {
        let conn = self.source.get().await?;
        MySqlLoad::begin(conn).await
    }
}

impl MySqlDump {
    fn conn(&mut self) -> Result<&mut MySqlConn, Error> {
        self.conn.as_mut().ok_or(Error::Closed)
    }

    async fn execute(&mut self, sql: &str) -> Result<(), Error> {
        let conn = self.conn()?;
        let result = conn.conn()?.query_drop(sql).await;
        result.map_err(|e| Error::Db(conn.fail(&e)))
    }

    /// Text rows of a query (catalog reads: small).
    pub(super) async fn text_rows(
        &mut self,
        sql: &str,
        params: Vec<mysql_async::Value>,
    ) -> Result<Vec<Vec<Option<String>>>, Error> {
        let conn = self.conn()?;
        let result: Result<Vec<mysql_async::Row>, _> = if params.is_empty() {
            conn.conn()?.query(sql).await
        } else {
            conn.conn()?.exec(sql, params).await
        };
        let rows = result.map_err(|e| Error::Db(conn.fail(&e)))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        Some(mysql_async::Value::Bytes(b)) => {
                            Some(String::from_utf8_lossy(b).into_owned())
                        }
                        Some(mysql_async::Value::NULL) | None => None,
                        Some(other) => Some(other.as_sql(false).trim_matches('\'').to_owned()),
                    })
                    .collect()
            })
            .collect())
    }

    /// The `SELECT` of one page (or, without a key, of the whole table).
    fn select(table: &DumpTable, after: Option<&DumpKey>, paged: bool) -> String {
        let mut sql = String::from("SELECT ");
        for (i, c) in table.columns.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            my_ident(&mut sql, c);
        }
        if table.columns.is_empty() {
            sql.push('1');
        }
        sql.push_str(" FROM ");
        my_ident(&mut sql, &table.name);
        let Some(key) = table.key.as_ref().filter(|_| paged) else {
            return sql;
        };
        if let Some(after) = after {
            let literals: Vec<&str> = after.0.split(KEY_SEPARATOR).collect();
            sql.push_str(" WHERE ");
            sql.push_str(&keyset_condition(key, &literals));
        }
        sql.push_str(" ORDER BY ");
        for (i, k) in key.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            my_ident(&mut sql, k);
        }
        sql.push_str(&format!(" LIMIT {DUMP_BATCH_ROWS}"));
        sql
    }
}

/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) …`: the rows after a key, in a form the range
/// optimizer uses (row-constructor comparisons are not always indexed).
fn keyset_condition(key: &[String], literals: &[&str]) -> String {
    let mut out = String::new();
    for i in 0..key.len().min(literals.len()) {
        if i > 0 {
            out.push_str(" OR ");
        }
        out.push('(');
        for j in 0..i {
            my_ident(&mut out, &key[j]);
            out.push_str(" = ");
            out.push_str(literals[j]);
            out.push_str(" AND ");
        }
        my_ident(&mut out, &key[i]);
        out.push_str(" > ");
        out.push_str(literals[i]);
        out.push(')');
    }
    out
}

/// Appends the literal of one text-protocol value.
pub(crate) fn literal(out: &mut String, value: Option<&mysql_async::Value>, kind: LiteralKind) {
    let bytes: &[u8] = match value {
        Some(mysql_async::Value::Bytes(b)) => b,
        Some(mysql_async::Value::NULL) | None => {
            out.push_str("NULL");
            return;
        }
        Some(other) => {
            out.push_str(&other.as_sql(false));
            return;
        }
    };
    match (kind, std::str::from_utf8(bytes)) {
        (LiteralKind::Bare, Ok(text)) => out.push_str(text),
        (LiteralKind::Quoted, Ok(text)) => quoted(out, text),
        _ if bytes.is_empty() => out.push_str("''"),
        _ => {
            out.push_str("0x");
            for b in bytes {
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `'text'` with the escapes of `mysql_real_escape_string`.
fn quoted(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// The `INSERT … VALUES` head of a table.
fn insert_head(table: &DumpTable) -> String {
    let mut out = String::from("INSERT INTO ");
    my_ident(&mut out, &table.name);
    out.push_str(" (");
    for (i, c) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        my_ident(&mut out, c);
    }
    out.push_str(") VALUES\n");
    out
}

/// Renders one row as `(…)` and returns the literals of its key columns.
fn row_tuple(
    out: &mut String,
    table: &DumpTable,
    row: &mysql_async::Row,
    key_at: &[usize],
) -> String {
    out.push('(');
    for (i, kind) in table.detail.kinds.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        literal(out, row.as_ref(i), *kind);
    }
    out.push(')');
    let mut key = String::new();
    for (n, &i) in key_at.iter().enumerate() {
        if n > 0 {
            key.push(KEY_SEPARATOR);
        }
        let kind = table
            .detail
            .kinds
            .get(i)
            .copied()
            .unwrap_or(LiteralKind::Quoted);
        literal(&mut key, row.as_ref(i), kind);
    }
    key
}

impl DumpSource for MySqlDump {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn tables(&mut self) -> Result<Vec<DumpTable>, Error> {
        catalog::tables(self).await
    }

    async fn prologue(&mut self) -> Result<String, Error> {
        Ok(catalog::PROLOGUE.to_owned())
    }

    async fn ddl(&mut self, table: &DumpTable) -> Result<String, Error> {
        catalog::create_table(self, table).await
    }

    async fn scan<S: DumpSink>(
        &mut self,
        table: &DumpTable,
        after: Option<&DumpKey>,
        max_rows: Option<u64>,
        sink: &mut S,
    ) -> Result<ScanEnd, Error> {
        if table.columns.is_empty() {
            return Ok(ScanEnd {
                rows: 0,
                last_key: None,
                complete: true,
            });
        }
        let key_at: Vec<usize> = table
            .key
            .iter()
            .flatten()
            .filter_map(|k| table.columns.iter().position(|c| c == k))
            .collect();
        let paged = table.key.is_some();
        let head = insert_head(table);
        let mut end = ScanEnd {
            rows: 0,
            last_key: after.cloned(),
            complete: false,
        };
        loop {
            let sql = Self::select(table, end.last_key.as_ref(), paged);
            let conn = self.conn()?;
            let mut in_page = 0usize;
            let mut out = String::new();
            let failed = {
                let driver = conn.conn()?;
                let mut result = match driver.query_iter(sql).await {
                    Ok(r) => r,
                    Err(e) => return Err(Error::Db(conn.fail(&e))),
                };
                let mut failed = None;
                loop {
                    let row = match result.next().await {
                        Ok(Some(row)) => row,
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    };
                    out.push_str(if out.is_empty() { head.as_str() } else { ",\n" });
                    let key = row_tuple(&mut out, table, &row, &key_at);
                    in_page += 1;
                    end.rows += 1;
                    if paged {
                        end.last_key = Some(DumpKey(key));
                    }
                    if in_page.is_multiple_of(DUMP_BATCH_ROWS) {
                        out.push_str(";\n");
                        sink.write(std::mem::take(&mut out), DUMP_BATCH_ROWS as u64)
                            .await?;
                    }
                }
                failed
            };
            if let Some(e) = failed {
                return Err(Error::Db(conn.fail(&e)));
            }
            if !out.is_empty() {
                out.push_str(";\n");
                sink.write(out, (in_page % DUMP_BATCH_ROWS) as u64).await?;
            }
            if !paged || in_page < DUMP_BATCH_ROWS {
                end.complete = true;
                if !paged {
                    end.last_key = None;
                }
                return Ok(end);
            }
            if max_rows.is_some_and(|max| end.rows >= max) {
                return Ok(end);
            }
        }
    }

    async fn epilogue(&mut self) -> Result<String, Error> {
        catalog::epilogue(self).await
    }

    async fn close(mut self) {
        if let Some(conn) = self.conn.take() {
            // Session settings were changed: close rather than pool.
            conn.discard().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_like_the_client() {
        let cases = [
            (None, LiteralKind::Quoted, "NULL"),
            (Some(b"12".to_vec()), LiteralKind::Bare, "12"),
            (
                Some(b"a'b\"c\\d\ne\0\x1a".to_vec()),
                LiteralKind::Quoted,
                "'a\\'b\\\"c\\\\d\\ne\\0\\Z'",
            ),
            (Some(vec![0, 0xff]), LiteralKind::Hex, "0x00FF"),
            (Some(vec![]), LiteralKind::Hex, "''"),
            (
                Some("ünï".as_bytes().to_vec()),
                LiteralKind::Quoted,
                "'ünï'",
            ),
        ];
        for (bytes, kind, want) in cases {
            let value = bytes.map(mysql_async::Value::Bytes);
            let mut out = String::new();
            literal(&mut out, value.as_ref(), kind);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn keyset_conditions_expand_composite_keys() {
        let key = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            keyset_condition(&key, &["1", "'x'"]),
            "(`a` > 1) OR (`a` = 1 AND `b` > 'x')"
        );
    }
}
