//! PostgreSQL dumps: `PgDump` (a `DumpSource`) and `PgLoad` (one transaction loading a
//! script).
//!
//! Owns reading one snapshot (`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` on one
//! pinned connection, `search_path` emptied so that every name the server's `pg_get_*`
//! functions print is schema-qualified) of the schemas on the source's `search_path`
//! (`current_schemas(false)`; never `pg_catalog` or `information_schema`), and rendering it
//! in PostgreSQL's dialect for `psql`: extensions, schemas, enum/domain/composite types,
//! functions and procedures, sequences, tables (real types, collations, defaults, identity
//! and generated columns, `NOT NULL`, primary key, unique, check and exclusion constraints),
//! the rows, then sequence values, `OWNED BY`, views and materialized views (in dependency
//! order), indexes, foreign keys and triggers, all inside one `BEGIN … COMMIT`. Values are
//! rendered by the server (`quote_nullable`, `bytea` as `'\x…'`, integers bare), so every
//! type reads back exactly; rows come in primary-key order (`ctid` order for a table without
//! one) by keyset pages. Partitioned, inherited and foreign tables, range and base types and
//! aggregates are refused with `0A000`. Must not know any frontend.

mod catalog;
mod load;
pub mod split;

use deadpool_postgres::Object;
use starbase_protocol::Dialect;

pub use self::load::PgLoad;
use super::PgBackend;
use super::error::from_pg;
use crate::dump::{DUMP_BATCH_ROWS, DumpKey, DumpSink, DumpSource, DumpTable, ScanEnd, pg_ident};
use crate::error::Error;

/// Session settings of the snapshot: exact floats, hex bytea, ISO dates, qualified names.
const SNAPSHOT_SETUP: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
     SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; \
     SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres'; \
     SET LOCAL standard_conforming_strings = on; SET LOCAL client_encoding = 'UTF8'; \
     SET LOCAL statement_timeout = 0";

/// A snapshot of a PostgreSQL database being dumped (see the module doc).
pub struct PgDump {
    /// `None` once closed.
    obj: Option<Object>,
    address: String,
    /// The dumped schemas.
    schemas: Vec<String>,
    /// Per table (by oid): its columns, for `ddl`.
    columns: std::collections::HashMap<u32, Vec<catalog::ColumnMeta>>,
}

impl std::fmt::Debug for PgDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDump")
            .field("address", &self.address)
            .field("schemas", &self.schemas)
            .finish_non_exhaustive()
    }
}

impl PgBackend {
    /// Opens a dump: a pooled connection inside a read-only repeatable-read snapshot.
    ///
    /// # Errors
    /// `08006`/`53300` when no connection can be had; the server's errors.
    pub async fn open_dump(&self) -> Result<PgDump, Error> {
        let conn = self.source.get().await?;
        let obj = conn.obj;
        let address = self.source.0.address.clone();
        let fail = |e: tokio_postgres::Error| Error::Db(from_pg(&e, &address));
        // The schemas as the source's own search_path names them, before emptying it.
        let row = obj
            .query_one("SELECT pg_catalog.current_schemas(false)::text[]", &[])
            .await
            .map_err(fail)?;
        let schemas: Vec<String> = row.try_get(0).map_err(fail)?;
        let dump = PgDump {
            obj: Some(obj),
            address: address.clone(),
            schemas,
            columns: std::collections::HashMap::new(),
        };
        dump.batch(SNAPSHOT_SETUP).await?;
        dump.batch("SELECT pg_catalog.set_config('search_path', '', true)")
            .await?;
        Ok(dump)
    }

    /// Opens a load: a pooled connection inside `BEGIN` (closed, not pooled, at the end).
    ///
    /// # Errors
    /// `08006`/`53300` when no connection can be had.
    pub async fn open_load(&self) -> Result<PgLoad, Error> {
        let conn = self.source.get().await?;
        PgLoad::begin(conn.obj, self.source.0.address.clone()).await
    }
}

impl PgDump {
    fn client(&self) -> Result<&Object, Error> {
        self.obj.as_ref().ok_or(Error::Closed)
    }

    fn fail(&self, e: &tokio_postgres::Error) -> Error {
        Error::Db(from_pg(e, &self.address))
    }

    async fn batch(&self, sql: &str) -> Result<(), Error> {
        self.client()?
            .batch_execute(sql)
            .await
            .map_err(|e| self.fail(&e))
    }

    /// Rows of a catalog query.
    pub(super) async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, Error> {
        self.client()?
            .query(sql, params)
            .await
            .map_err(|e| self.fail(&e))
    }

    /// Text rows of a statement built from catalog names (simple protocol, text results).
    async fn text_rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        let messages = self
            .client()?
            .simple_query(sql)
            .await
            .map_err(|e| self.fail(&e))?;
        let mut rows = Vec::new();
        for message in messages {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                );
            }
        }
        Ok(rows)
    }

    /// One keyset page of `table` after `after`: each row rendered as `(…)` and its key.
    async fn page(
        &self,
        table: &DumpTable,
        after: Option<&DumpKey>,
    ) -> Result<Vec<(String, String)>, Error> {
        let detail = &table.detail;
        let mut sql = String::from("SELECT '(' || ");
        for (i, render) in detail.render.iter().enumerate() {
            if i > 0 {
                sql.push_str(" || ',' || ");
            }
            sql.push_str(render);
        }
        if detail.render.is_empty() {
            sql.push_str("''");
        }
        sql.push_str(" || ')', ");
        let mut order = String::new();
        if detail.ctid {
            sql.push_str("pg_catalog.quote_literal(ctid::text)");
            order.push_str("ctid");
        } else {
            sql.push_str("pg_catalog.concat_ws(','");
            for (i, k) in table.key.iter().flatten().enumerate() {
                sql.push_str(", pg_catalog.quote_nullable(");
                pg_ident(&mut sql, k);
                sql.push(')');
                if i > 0 {
                    order.push_str(", ");
                }
                pg_ident(&mut order, k);
            }
            sql.push(')');
        }
        sql.push_str(" FROM ONLY ");
        qualified(&mut sql, table);
        if let Some(key) = after {
            sql.push_str(" WHERE (");
            sql.push_str(&order);
            sql.push_str(") > (");
            sql.push_str(&key.0);
            sql.push(')');
        }
        sql.push_str(" ORDER BY ");
        sql.push_str(&order);
        sql.push_str(&format!(" LIMIT {DUMP_BATCH_ROWS}"));
        let rows = self.text_rows(&sql).await?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                let key = r.pop()??;
                let row = r.pop()??;
                Some((row, key))
            })
            .collect())
    }
}

/// `"schema"."table"`.
fn qualified(out: &mut String, table: &DumpTable) {
    if let Some(schema) = &table.schema {
        pg_ident(out, schema);
        out.push('.');
    }
    pg_ident(out, &table.name);
}

/// One multi-row `INSERT` of rendered rows.
fn insert(table: &DumpTable, rows: &[(String, String)]) -> String {
    let mut out = String::with_capacity(rows.iter().map(|r| r.0.len() + 2).sum::<usize>() + 128);
    if table.columns.is_empty() {
        for _ in rows {
            out.push_str("INSERT INTO ");
            qualified(&mut out, table);
            out.push_str(" DEFAULT VALUES;\n");
        }
        return out;
    }
    out.push_str("INSERT INTO ");
    qualified(&mut out, table);
    out.push_str(" (");
    for (i, c) in table.columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        pg_ident(&mut out, c);
    }
    out.push(')');
    if table.detail.overriding {
        out.push_str(" OVERRIDING SYSTEM VALUE");
    }
    out.push_str(" VALUES\n");
    for (i, (row, _)) in rows.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(row);
    }
    out.push_str(";\n");
    out
}

impl DumpSource for PgDump {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn tables(&mut self) -> Result<Vec<DumpTable>, Error> {
        let (tables, columns) = catalog::tables(self).await?;
        self.columns = columns;
        Ok(tables)
    }

    async fn prologue(&mut self) -> Result<String, Error> {
        catalog::prologue(self).await
    }

    async fn ddl(&mut self, table: &DumpTable) -> Result<String, Error> {
        let columns = self
            .columns
            .get(&table.detail.oid)
            .cloned()
            .unwrap_or_default();
        catalog::create_table(self, table, &columns).await
    }

    async fn scan<S: DumpSink>(
        &mut self,
        table: &DumpTable,
        after: Option<&DumpKey>,
        max_rows: Option<u64>,
        sink: &mut S,
    ) -> Result<ScanEnd, Error> {
        let mut end = ScanEnd {
            rows: 0,
            last_key: after.cloned(),
            complete: false,
        };
        loop {
            let page = self.page(table, end.last_key.as_ref()).await?;
            let full = page.len() == DUMP_BATCH_ROWS;
            if let Some((_, key)) = page.last() {
                end.last_key = Some(DumpKey(key.clone()));
                end.rows += page.len() as u64;
                sink.write(insert(table, &page), page.len() as u64).await?;
            }
            if !full {
                end.complete = true;
                return Ok(end);
            }
            if max_rows.is_some_and(|max| end.rows >= max) {
                return Ok(end);
            }
        }
    }

    async fn epilogue(&mut self) -> Result<String, Error> {
        let mut out = catalog::epilogue(self).await?;
        out.push_str("COMMIT;\n");
        Ok(out)
    }

    async fn close(mut self) {
        if let Some(obj) = self.obj.take() {
            // A read-only snapshot: rolling back loses nothing and frees the connection
            // for the pool with no session setting left behind (all were `SET LOCAL`).
            if obj.batch_execute("ROLLBACK").await.is_err() {
                drop(Object::take(obj));
            }
        }
    }
}

impl Drop for PgDump {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take() {
            // Dropped mid-dump: the connection may be inside the snapshot; close it.
            drop(Object::take(obj));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::TableDetail;

    #[test]
    fn inserts_name_columns_and_override_identity() {
        let table = DumpTable {
            schema: Some("s".into()),
            name: "t\"x".into(),
            columns: vec!["id".into(), "v".into()],
            key: Some(vec!["id".into()]),
            detail: TableDetail {
                overriding: true,
                ..TableDetail::default()
            },
        };
        let rows = vec![
            ("(1,'a')".to_owned(), "'1'".to_owned()),
            ("(2,NULL)".to_owned(), "'2'".to_owned()),
        ];
        assert_eq!(
            insert(&table, &rows),
            "INSERT INTO \"s\".\"t\"\"x\" (\"id\", \"v\") OVERRIDING SYSTEM VALUE VALUES\n(1,'a'),\n(2,NULL);\n"
        );
    }
}
