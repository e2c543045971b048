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
//! order), indexes, foreign keys and triggers, all inside one `BEGIN … COMMIT`. Rows are
//! written as `pg_dump` writes them, one `COPY … FROM stdin;` block per table, and read
//! with `COPY … TO STDOUT`, so the server renders every value in its own text format and
//! the dump only moves bytes (see `scan`): primary-key order by keyset statements that
//! successive scans continue, physical order in one pass for a table without one. The
//! snapshot is read on a connection of its own (`PgSource::connect_own`), closed with it.
//! Partitioned, inherited and foreign tables, range
//! and base types and aggregates are refused with `0A000`. Must not know any frontend.

mod catalog;
mod copy_text;
mod load;
mod scan;
pub mod split;

use deadpool_postgres::ClientWrapper;
use starbase_protocol::Dialect;

pub use self::load::PgLoad;
use super::PgBackend;
use super::error::from_pg;
use crate::dump::{DumpKey, DumpSink, DumpSource, DumpTable, ScanEnd, pg_ident};
use crate::error::Error;

/// Session settings of the snapshot: exact floats, hex bytea, ISO dates, UTF-8, quotes as
/// the standard has them (the key literals rely on it), and seq scans from the first block
/// (a keyless table comes out in the same order every time).
const SNAPSHOT_SETUP: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
     SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; \
     SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres'; \
     SET LOCAL standard_conforming_strings = on; SET LOCAL client_encoding = 'UTF8'; \
     SET LOCAL synchronize_seqscans = off; SET LOCAL statement_timeout = 0";

/// A snapshot of a PostgreSQL database being dumped (see the module doc).
pub struct PgDump {
    /// `None` once closed.
    obj: Option<ClientWrapper>,
    address: String,
    /// The dumped schemas.
    schemas: Vec<String>,
    /// Per table (by oid): its columns, for `ddl`.
    columns: std::collections::HashMap<u32, Vec<catalog::ColumnMeta>>,
    /// The keyset `COPY` the next scan of its table continues.
    open: Option<scan::OpenCopy>,
    /// `enable_sort` is off in the snapshot (from the first keyset scan to the epilogue).
    sorts_off: bool,
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
    /// Opens a dump: a connection of its own (outside the pool, so a dump of hours holds
    /// no pooled connection, and opened from the caller's runtime, so the reading of its
    /// rows runs there: on the dump's low-priority thread) inside a read-only
    /// repeatable-read snapshot. The connection closes with the dump.
    ///
    /// # Errors
    /// `08006` when the server cannot be reached; the server's errors.
    pub async fn open_dump(&self) -> Result<PgDump, Error> {
        let obj = self.source.connect_own().await?;
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
            open: None,
            sorts_off: false,
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
    fn client(&self) -> Result<&ClientWrapper, Error> {
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
}

/// `"schema"."table"`.
fn qualified(out: &mut String, table: &DumpTable) {
    if let Some(schema) = &table.schema {
        pg_ident(out, schema);
        out.push('.');
    }
    pg_ident(out, &table.name);
}

impl DumpSource for PgDump {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    /// At least [`scan::COPY_PAGE_ROWS`]: a scan continues the table's open `COPY`
    /// statement, so a page costs only the decoding of its last key.
    fn page_rows(&self, chunk: u64) -> u64 {
        chunk.max(scan::COPY_PAGE_ROWS)
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
        scan::scan(self, table, after, max_rows, sink).await
    }

    async fn epilogue(&mut self) -> Result<String, Error> {
        if std::mem::take(&mut self.sorts_off) {
            // The catalog queries below need their sorts (see `scan::keyset_plans`).
            self.batch("SET LOCAL enable_sort = on").await?;
        }
        let mut out = catalog::epilogue(self).await?;
        out.push_str("COMMIT;\n");
        Ok(out)
    }

    async fn close(mut self) {
        // Dropping the connection closes it, which ends the snapshot and a statement still
        // sending rows at once; the `ROLLBACK` before, when no statement is, keeps the
        // server from logging an unexpected end of a client's open transaction.
        if self.open.take().is_none()
            && let Some(obj) = &self.obj
        {
            let _ = obj.batch_execute("ROLLBACK").await;
        }
        self.obj = None;
    }
}
