//! PostgreSQL catalog emulation inside the embedded SQLite engine: the `pg_catalog` and
//! `information_schema` relations as TEMP views, and the PostgreSQL functions clients call
//! in catalog queries, installed on every connection when it is opened.
//!
//! Owns what a catalog query sees. The views read `main.sqlite_schema` and the `pragma_*`
//! table-valued functions on every query (nothing is cached), so DDL shows up at once; they
//! hide SQLite's internal tables by the dump's rule. They are TEMP objects: the temp schema
//! belongs to the connection, so a reader opened `SQLITE_OPEN_READ_ONLY` can hold them while
//! its main database stays read-only; `install` runs before `PRAGMA query_only = 1`, which
//! then stops writes to temp too. Unqualified names resolve to temp first, so the catalog
//! views shadow main tables with the same names (`pg_class`…); `main.pg_class` still works.
//!
//! What the dialect translator relies on: views are named as in PostgreSQL without the
//! `pg_catalog.` prefix (`pg_class`), and `information_schema.x` is `information_schema_x`;
//! `'x'::regclass` is `starbase_regclass('x')` (likewise `starbase_regtype`,
//! `starbase_regproc`, `starbase_regnamespace`; `to_reg*` return NULL instead of raising);
//! `a ~ b` is `regexp(b, a)` (SQLite's `a REGEXP b`); the database is [`DATABASE_NAME`]. The
//! `starbase_*` helpers other than the `reg*` casts are internal to the views. View columns
//! have no SQLite declared type: [`catalog_column_type`] gives their PostgreSQL types.
//!
//! Array columns (`indkey`, `conkey`, `datacl`…) hold PostgreSQL's array text; `arrays`
//! gives the array functions and the `starbase_array_json`/`starbase_array_get` helpers the
//! translator uses for `= ANY(arr)`, `unnest`, `generate_subscripts` and `arr[i]`.
//!
//! Layout: `functions` (pure functions), `arrays`, `lookups` + `snapshot` (functions that need the
//! schema: `reg*` casts, `pg_get_*def`, sizes), `views_pg`, `views_pg_static`,
//! `views_pg_settings`, `views_information_schema`, `column_types`; helpers `args`, `text`,
//! `typmod`, `ddl`, `types`, `clock`. Must not know about jobs, plans or threads.

mod args;
mod arrays;
mod clock;
mod column_types;
mod ddl;
mod functions;
mod lookups;
mod snapshot;
mod text;
mod types;
mod typmod;
mod views_information_schema;
mod views_pg;
mod views_pg_settings;
mod views_pg_static;

use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};

pub use self::column_types::catalog_column_type;
pub use self::functions::DATABASE_NAME;

/// Registers the functions and creates the views on `conn`, and takes its rollback hook (a
/// rolled-back transaction may have loaded definitions of DDL that never happened) and its
/// authorizer (no client may drop a catalog view).
///
/// # Errors
/// SQLite's error when a function cannot be registered or a view cannot be created (the
/// caller reports it as a failure to open the database).
pub(super) fn install(conn: &mut Connection) -> rusqlite::Result<()> {
    clock::mark_start();
    let shared: snapshot::Shared = Arc::new(Mutex::new(snapshot::Snapshot::default()));
    let stale = shared.clone();
    conn.rollback_hook(Some(move || snapshot::invalidate(&stale)))?;
    conn.authorizer(Some(guard_views))?;
    let conn: &Connection = conn;
    functions::register(conn)?;
    arrays::register(conn)?;
    // `generate_series(start, stop[, step])` as a table-valued function (column `value`).
    rusqlite::vtab::series::load_module(conn)?;
    snapshot::register(conn, &shared)?;
    lookups::register(conn, &shared)?;
    let mut sql = views_pg_static::before();
    for view in views_pg::VIEWS
        .iter()
        .chain(views_information_schema::VIEWS)
    {
        sql.push_str(view);
        sql.push_str(";\n");
    }
    sql.push_str(&views_pg_static::after());
    conn.execute_batch(&sql)
}

/// Refuses `DROP VIEW` of a catalog view (`42501`): the writer's temp schema is writable and
/// shared by every client of the connection. The access authorizer (`access`), which
/// replaces this one once the connection is set up, asks it first.
pub(super) fn guard_views(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::DropTempView { view_name } if is_catalog_name(view_name) => Authorization::Deny,
        _ => Authorization::Allow,
    }
}

/// True for the names of the views `install` creates.
fn is_catalog_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["pg_", "information_schema_", "starbase_"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// Brings the per-connection snapshot up to date before `sql` runs, when it calls a
/// function that reads it (`regclass`, `pg_get_*def`, relation sizes). Cheap otherwise: a
/// scan of the text.
pub(super) fn refresh(conn: &Connection, sql: &str) {
    snapshot::refresh(conn, sql);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::threads::{open_reader, open_writer};

    #[test]
    fn readers_get_the_catalog_and_stay_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let writer = open_writer(&path, Duration::from_secs(1)).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .unwrap();
        let reader = open_reader(&path, Duration::from_secs(1)).unwrap();
        let names: Vec<String> = reader
            .prepare("SELECT relname FROM pg_class ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, ["t", "t_pkey"]);
        for write in [
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE u (x)",
            "CREATE TEMP TABLE v (x)",
            "DROP VIEW pg_class",
        ] {
            let err = reader.execute_batch(write).unwrap_err();
            let text = err.to_string();
            assert!(
                ["readonly", "read-only", "not authorized"]
                    .iter()
                    .any(|w| text.contains(w)),
                "{write}: {err}"
            );
        }
        let count: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }
}
