//! Where a result column comes from: the table and column SQLite reports
//! (`sqlite3_column_table_name`/`_origin_name`) and the column's position in that table,
//! numbered as `pg_attribute.attnum` numbers it (`cid + 1` in `pragma_table_xinfo`).
//!
//! Owns the per-thread cache of table column lists: every SQLite connection lives on its own
//! thread, and a list stays valid while the database's `schema_version` is unchanged, so a
//! statement costs one `schema_version` read instead of a `pragma_table_xinfo` per table.
//! Must not know jobs, plans or how the frontend uses the origin.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::{ColumnMetadata, Connection};
use starbase_protocol::ColumnOrigin;

/// Column lists of one database file at one schema version.
#[derive(Debug, Default)]
struct Cache {
    path: String,
    version: i64,
    tables: HashMap<String, Vec<String>>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Resolves the origins of one statement's columns.
pub(super) struct Origins<'c> {
    conn: &'c Connection,
    /// The database file, when the cache may be used (not for in-memory databases, which a
    /// thread may hold several of).
    path: Option<String>,
    /// The schema version, read on the first column that needs it.
    version: Option<i64>,
}

impl std::fmt::Debug for Origins<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origins")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<'c> Origins<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        let path = conn.path().filter(|p| !p.is_empty()).map(str::to_owned);
        Self {
            conn,
            path,
            version: None,
        }
    }

    /// The origin of a column of a table of the main database; `None` for expressions, the
    /// catalog's TEMP views and SQLite's own tables.
    pub(super) fn of(&mut self, meta: &ColumnMetadata<'_>) -> Option<ColumnOrigin> {
        if meta.database_name() != Some("main") {
            return None;
        }
        let (table, column) = (meta.table_name()?, meta.origin_name()?);
        // `sqlite_schema` is what the catalog views read, not a relation clients see.
        if table.to_ascii_lowercase().starts_with("sqlite_") {
            return None;
        }
        let cid = self.position(table, column)?;
        Some(ColumnOrigin {
            table: table.to_owned(),
            column: column.to_owned(),
            position: i16::try_from(cid + 1).ok()?,
        })
    }

    fn position(&mut self, table: &str, column: &str) -> Option<usize> {
        let find = |names: &[String]| names.iter().position(|c| c.eq_ignore_ascii_case(column));
        let Some(path) = self.path.as_deref() else {
            return find(&table_columns(self.conn, table));
        };
        let version = match self.version {
            Some(v) => v,
            None => {
                let v = schema_version(self.conn)?;
                self.version = Some(v);
                v
            }
        };
        CACHE.with_borrow_mut(|cache| {
            if cache.path != path || cache.version != version {
                *cache = Cache {
                    path: path.to_owned(),
                    version,
                    tables: HashMap::new(),
                };
            }
            if let Some(names) = cache.tables.get(table) {
                return find(names);
            }
            let names = cache
                .tables
                .entry(table.to_owned())
                .or_insert_with(|| table_columns(self.conn, table));
            find(names)
        })
    }
}

fn schema_version(conn: &Connection) -> Option<i64> {
    // The PRAGMA itself, not the `pragma_schema_version` table-valued function: the function
    // prepares the PRAGMA again on every read, the cached PRAGMA just reads the cookie.
    let mut stmt = conn.prepare_cached("PRAGMA schema_version").ok()?;
    stmt.query_row([], |r| r.get(0)).ok()
}

/// The columns of `table` in `cid` order, hidden columns included; empty when the table
/// cannot be read.
fn table_columns(conn: &Connection, table: &str) -> Vec<String> {
    let read = || -> rusqlite::Result<Vec<String>> {
        let mut stmt =
            conn.prepare_cached("SELECT name FROM pragma_table_xinfo(?1, 'main') ORDER BY cid")?;
        let names = stmt.query_map([table], |r| r.get(0))?;
        names.collect()
    };
    read().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_position(conn: &Connection, sql: &str) -> Option<i16> {
        let stmt = conn.prepare(sql).unwrap();
        let meta = stmt.columns_with_metadata().next().unwrap();
        Origins::new(conn).of(&meta).map(|o| o.position)
    }

    #[test]
    fn cached_positions_follow_schema_changes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
        conn.execute_batch("CREATE TABLE t (a, b, c)").unwrap();
        assert_eq!(first_position(&conn, "SELECT c FROM t"), Some(3));
        assert_eq!(first_position(&conn, "SELECT c FROM t"), Some(3), "cached");
        conn.execute_batch("ALTER TABLE t DROP COLUMN a").unwrap();
        assert_eq!(
            first_position(&conn, "SELECT c FROM t"),
            Some(2),
            "after DDL"
        );
        let other = Connection::open(dir.path().join("other.sqlite")).unwrap();
        other.execute_batch("CREATE TABLE t (c)").unwrap();
        assert_eq!(
            first_position(&other, "SELECT c FROM t"),
            Some(1),
            "another file"
        );
    }
}
