//! The per-connection snapshot of what the catalog functions cannot compute from their
//! arguments: which relations exist (`regclass`), index, constraint and view definitions
//! (`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_viewdef`) and relation sizes.
//!
//! A SQLite function cannot query its own connection without `unsafe`, so the snapshot is
//! loaded *through* the connection instead: [`refresh`] runs a query over the catalog views
//! that feeds an aggregate (`starbase_catalog_load`, `…_load_relations`, `…_load_sizes`),
//! whose closure shares the snapshot with the lookup functions. [`refresh`] runs before each
//! statement whose text calls one of those functions, and reloads only when
//! `PRAGMA schema_version` changed (sizes: when the data changed too, and never for
//! databases over [`MAX_DBSTAT_PAGES`], whose sizes read 0), so the functions see DDL the
//! moment it happened, on this very connection too. A rollback forgets the versions:
//! rolled-back DDL can bring `schema_version` back to a number whose definitions were loaded
//! mid-transaction.
//! Must not know about jobs, threads or plans.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::{Connection, params};

use super::args::pg_error;
use super::ddl::json_str;

thread_local! {
    /// True while [`refresh`] runs its load queries on this thread. The loaders refuse to run
    /// otherwise: a client sharing the connection must not replace the snapshot.
    static REFRESHING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as refreshing until dropped (also when a load panics).
struct Refreshing;

impl Refreshing {
    fn start() -> Self {
        REFRESHING.set(true);
        Refreshing
    }
}

impl Drop for Refreshing {
    fn drop(&mut self) {
        REFRESHING.set(false);
    }
}

/// `42501` unless [`refresh`] is running.
fn only_refresh(function: &str) -> rusqlite::Result<()> {
    if REFRESHING.get() {
        Ok(())
    } else {
        Err(pg_error(format!(
            "permission denied for function {function}"
        )))
    }
}

/// What the lookup functions read.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    /// The `schema_version` the relations were loaded at.
    relations_version: Option<String>,
    /// The `schema_version` the definitions were loaded at.
    version: Option<String>,
    /// The schema version, `data_version` and `total_changes()` the sizes were read at.
    sizes_version: Option<String>,
    /// Relation names (ASCII lower case) to their OIDs.
    relations: HashMap<String, i64>,
    /// (kind, OID) to definition: `i` index, `k` an index's key columns (separated by
    /// U+001F, empty for expressions), `c` constraint, `v` view.
    definitions: HashMap<(char, i64), String>,
    /// Relation OID to its size in bytes (`s`) and with its indexes (`t`).
    sizes: HashMap<(char, i64), i64>,
    /// Views (ASCII lower case) whose query no longer compiles (a table they read was
    /// dropped): `pragma_table_info` fails on them, so the catalog views leave them out.
    broken_views: HashSet<String>,
    /// The `schema_version` the broken views were found at.
    broken_version: Option<String>,
}

/// The snapshot shared by one connection's functions.
pub(super) type Shared = Arc<Mutex<Snapshot>>;

/// Reads the snapshot (a poisoned lock is still a usable snapshot).
pub(super) fn with<T>(shared: &Shared, read: impl FnOnce(&Snapshot) -> T) -> T {
    read(&shared.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Forgets which versions the snapshot belongs to, so the next statement that needs it
/// reloads it.
pub(super) fn invalidate(shared: &Shared) {
    let mut snapshot = shared.lock().unwrap_or_else(PoisonError::into_inner);
    snapshot.relations_version = None;
    snapshot.broken_version = None;
    snapshot.version = None;
    snapshot.sizes_version = None;
}

impl Snapshot {
    /// The version of `part` (`r` relations, `d` definitions, `s` sizes).
    fn version_of(&mut self, part: char) -> &mut Option<String> {
        match part {
            'r' => &mut self.relations_version,
            'b' => &mut self.broken_version,
            's' => &mut self.sizes_version,
            _ => &mut self.version,
        }
    }
}

impl Snapshot {
    /// False for a view whose query no longer compiles.
    pub(super) fn view_ok(&self, name: &str) -> bool {
        !self.broken_views.contains(&name.to_ascii_lowercase())
    }

    /// The OID of the relation named `name` (ASCII case folded), when it exists.
    pub(super) fn relation(&self, name: &str) -> Option<i64> {
        self.relations.get(&name.to_ascii_lowercase()).copied()
    }

    /// The definition of kind `kind` of the object `oid`.
    pub(super) fn definition(&self, kind: char, oid: i64) -> Option<&str> {
        self.definitions.get(&(kind, oid)).map(String::as_str)
    }

    /// The size of the relation `oid` (`s`: its own; `t`: with its indexes), 0 when unknown.
    pub(super) fn size(&self, kind: char, oid: i64) -> i64 {
        self.sizes.get(&(kind, oid)).copied().unwrap_or(0)
    }
}

/// What one `starbase_catalog_load(kind, oid, name, definition)` call collects.
#[derive(Debug, Default)]
struct Loading {
    relations: HashMap<String, i64>,
    definitions: HashMap<(char, i64), String>,
    sizes: HashMap<(char, i64), i64>,
    broken: HashSet<String>,
}

/// Which part of the snapshot a load replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Relation names.
    Relations,
    /// Views that no longer compile.
    Broken,
    /// Index, constraint and view definitions.
    Definitions,
    /// Relation sizes.
    Sizes,
}

/// The aggregate that swaps a freshly read part of the snapshot in.
struct Loader(Shared, Part);

impl Aggregate<Loading, i64> for Loader {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Loading> {
        Ok(Loading::default())
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut Loading) -> rusqlite::Result<()> {
        only_refresh("starbase_catalog_load")?;
        let kind: String = ctx.get(0)?;
        let oid: i64 = ctx.get(1)?;
        let kind = kind.chars().next().unwrap_or('?');
        match kind {
            'r' => {
                let name: String = ctx.get(2)?;
                acc.relations.insert(name.to_ascii_lowercase(), oid);
            }
            'b' => {
                let name: String = ctx.get(2)?;
                acc.broken.insert(name.to_ascii_lowercase());
            }
            's' | 't' | 'd' => {
                let size: Option<i64> = ctx.get(3)?;
                *acc.sizes.entry((kind, oid)).or_default() += size.unwrap_or(0);
            }
            _ => {
                if let Some(def) = ctx.get::<Option<String>>(3)? {
                    acc.definitions.insert((kind, oid), def);
                }
            }
        }
        Ok(())
    }

    fn finalize(&self, ctx: &mut Context<'_>, acc: Option<Loading>) -> rusqlite::Result<i64> {
        let _ = ctx;
        only_refresh("starbase_catalog_load")?;
        let acc = acc.unwrap_or_default();
        let mut snapshot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match self.1 {
            Part::Relations => snapshot.relations = acc.relations,
            Part::Broken => snapshot.broken_views = acc.broken,
            Part::Definitions => snapshot.definitions = acc.definitions,
            Part::Sizes => snapshot.sizes = acc.sizes,
        }
        Ok(0)
    }
}

/// Registers the loaders and `starbase_catalog_version` over `shared`; they are
/// `DIRECTONLY`: no view or trigger can call them.
pub(super) fn register(conn: &Connection, shared: &Shared) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    let broken = Loader(shared.clone(), Part::Broken);
    conn.create_aggregate_function("starbase_catalog_load_broken", 4, flags, broken)?;
    let views = shared.clone();
    let view_flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("starbase_view_ok", 1, view_flags, move |ctx| {
        let name: String = ctx.get(0)?;
        Ok(with(&views, |s| s.view_ok(&name)))
    })?;
    let relations = Loader(shared.clone(), Part::Relations);
    conn.create_aggregate_function("starbase_catalog_load_relations", 4, flags, relations)?;
    let definitions = Loader(shared.clone(), Part::Definitions);
    conn.create_aggregate_function("starbase_catalog_load", 4, flags, definitions)?;
    let sizes = Loader(shared.clone(), Part::Sizes);
    conn.create_aggregate_function("starbase_catalog_load_sizes", 4, flags, sizes)?;
    let versions = shared.clone();
    conn.create_scalar_function("starbase_catalog_set_version", 2, flags, move |ctx| {
        only_refresh("starbase_catalog_set_version")?;
        let (part, version): (String, String) = (ctx.get(0)?, ctx.get(1)?);
        let part = part.chars().next().unwrap_or('d');
        let mut snapshot = versions.lock().unwrap_or_else(PoisonError::into_inner);
        *snapshot.version_of(part) = Some(version);
        Ok(0)
    })?;
    let current = shared.clone();
    conn.create_scalar_function("starbase_catalog_version", 1, flags, move |ctx| {
        let part: String = ctx.get(0)?;
        let part = part.chars().next().unwrap_or('d');
        let mut snapshot = current.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(snapshot.version_of(part).clone())
    })
}

/// Relations: every `pg_class` row and the catalog views.
const LOAD_RELATIONS: &str = "SELECT starbase_catalog_load_relations(kind, oid, name, NULL)
  FROM (SELECT 'r' AS kind, oid, name FROM temp.starbase_catalog_relations
        UNION ALL SELECT 'r', indexrelid, relname FROM temp.starbase_catalog_index
        UNION ALL SELECT 'r', starbase_relation_oid(name), name FROM temp.sqlite_schema
         WHERE type = 'view')";

/// Index, constraint and view definitions.
const LOAD_DEFINITIONS: &str = "
WITH idx AS MATERIALIZED (
    SELECT indexrelid, indexdef, key_units FROM temp.starbase_catalog_index)
SELECT starbase_catalog_load(kind, oid, NULL, def) FROM (
    SELECT 'i' AS kind, indexrelid AS oid, indexdef AS def FROM idx
    UNION ALL SELECT 'k', indexrelid, key_units FROM idx
    UNION ALL SELECT 'c', oid, condef FROM temp.pg_constraint
    UNION ALL SELECT 'v', starbase_relation_oid(name), starbase_view_query(sql)
        FROM main.sqlite_schema WHERE type = 'view')";

/// Sizes from `dbstat`: each b-tree counted for itself and for its table's total.
const LOAD_SIZES: &str = "SELECT starbase_catalog_load_sizes(kind, oid, NULL, size) FROM (
    SELECT 's' AS kind, starbase_relation_oid(coalesce(i.relname, d.name)) AS oid,
           d.pgsize AS size
      FROM dbstat('main', 1) d LEFT JOIN temp.starbase_catalog_index i ON i.sqlite_name = d.name
    UNION ALL
    SELECT 't', starbase_relation_oid(s.tbl_name), d.pgsize
      FROM dbstat('main', 1) d JOIN main.sqlite_schema s ON s.name = d.name
    UNION ALL
    SELECT 'd', 0, c.page_count * s.page_size FROM pragma_page_count c, pragma_page_size s)";

/// The database's size alone (kind `d`), for databases too big for `dbstat`.
const LOAD_DATABASE_SIZE: &str =
    "SELECT starbase_catalog_load_sizes('d', 0, NULL, c.page_count * s.page_size)
    FROM pragma_page_count c, pragma_page_size s";

/// Words in a statement that mean it reads a catalog view or calls a function reading the
/// snapshot.
const TRIGGERS: &[&str] = &[
    "pg_",
    "information_schema",
    "regclass",
    "relation_size",
    "table_size",
    "database_size",
];

/// What the relations and definitions depend on: the schema.
const SCHEMA_VERSION: &str = "SELECT CAST(schema_version AS TEXT) FROM pragma_schema_version";

/// Whether `sql` contains one of `TRIGGERS` (any case), in one pass over the text: every
/// statement an import runs is checked, so this must cost about one comparison per byte.
fn mentions_trigger(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().any(|(i, b)| {
        let first = b.to_ascii_lowercase();
        TRIGGERS.iter().any(|word| {
            word.as_bytes()[0] == first
                && bytes
                    .get(i..i + word.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        })
    })
}

/// Brings the snapshot up to date for a statement about to run, when its text calls a
/// function that reads it. Failures are logged and leave the old snapshot in place.
pub(super) fn refresh(conn: &Connection, sql: &str) {
    if !mentions_trigger(sql) {
        return;
    }
    let mentions = |word: &str| {
        sql.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    let _refreshing = Refreshing::start();
    // First: every other load reads views that fail on a broken one.
    if let Err(e) = refresh_broken(conn) {
        tracing::warn!(error = %e, "could not check the views");
    }
    if mentions("regclass")
        && let Err(e) = refresh_part(conn, 'r', SCHEMA_VERSION, LOAD_RELATIONS)
    {
        tracing::warn!(error = %e, "could not load the catalog relations");
    }
    if mentions("pg_get_")
        && let Err(e) = refresh_part(conn, 'd', SCHEMA_VERSION, LOAD_DEFINITIONS)
    {
        tracing::warn!(error = %e, "could not load the catalog definitions");
    }
    if ["relation_size", "table_size", "database_size"]
        .iter()
        .any(|w| mentions(w))
        && let Err(e) = refresh_sizes(conn)
    {
        tracing::debug!(error = %e, "relation sizes unavailable (dbstat)");
    }
}

/// What the sizes depend on: the schema, commits by other connections, this one's changes.
const SIZES_VERSION: &str = "SELECT s.schema_version || ':' || d.data_version || ':'
    || total_changes() FROM pragma_schema_version s, pragma_data_version d";

/// Databases larger than this many pages get no sizes (0): `dbstat` reads every page, and
/// that must not happen on each catalog query of a big database.
const MAX_DBSTAT_PAGES: i64 = 65_536;

/// Runs `load` when the value of `version` differs from the one part `part` was loaded at.
fn refresh_part(conn: &Connection, part: char, version: &str, load: &str) -> rusqlite::Result<()> {
    let current: String = conn.prepare_cached(version)?.query_row([], |r| r.get(0))?;
    let loaded: Option<String> = conn
        .prepare_cached("SELECT starbase_catalog_version(?1)")?
        .query_row(params![part.to_string()], |r| r.get(0))?;
    if loaded.as_deref() != Some(current.as_str()) {
        conn.prepare_cached(load)?.query_row([], |_| Ok(()))?;
        conn.prepare_cached("SELECT starbase_catalog_set_version(?1, ?2)")?
            .query_row(params![part.to_string(), current], |_| Ok(()))?;
    }
    Ok(())
}

/// Finds the views whose query no longer compiles, when the schema changed.
fn refresh_broken(conn: &Connection) -> rusqlite::Result<()> {
    let current: String = conn
        .prepare_cached(SCHEMA_VERSION)?
        .query_row([], |r| r.get(0))?;
    let loaded: Option<String> = conn
        .prepare_cached("SELECT starbase_catalog_version('b')")?
        .query_row([], |r| r.get(0))?;
    if loaded.as_deref() == Some(current.as_str()) {
        return Ok(());
    }
    let views: Vec<String> = conn
        .prepare("SELECT name FROM main.sqlite_schema WHERE type = 'view'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let broken: Vec<String> = views
        .iter()
        .filter(|view| {
            conn.query_row(
                "SELECT count(*) FROM pragma_table_info(?1, 'main')",
                [view],
                |r| r.get::<_, i64>(0),
            )
            .is_err()
        })
        .map(|view| json_str(view))
        .collect();
    conn.query_row(
        "SELECT starbase_catalog_load_broken('b', 0, value, NULL) FROM json_each(?1)",
        [format!("[{}]", broken.join(","))],
        |_| Ok(()),
    )?;
    conn.prepare_cached("SELECT starbase_catalog_set_version('b', ?1)")?
        .query_row(params![current], |_| Ok(()))?;
    Ok(())
}

/// Reloads the sizes when the data changed, unless the database is too big to scan.
fn refresh_sizes(conn: &Connection) -> rusqlite::Result<()> {
    let pages: i64 = conn.query_row("PRAGMA main.page_count", [], |r| r.get(0))?;
    if pages > MAX_DBSTAT_PAGES {
        // Only the database's size: the relation sizes a smaller database had are forgotten.
        return conn.query_row(LOAD_DATABASE_SIZE, [], |_| Ok(()));
    }
    refresh_part(conn, 's', SIZES_VERSION, LOAD_SIZES)
}

#[cfg(test)]
mod tests {
    #[test]
    fn trigger_words_are_found_in_any_case() {
        assert!(super::mentions_trigger("SELECT * FROM PG_CLASS"));
        assert!(super::mentions_trigger("select 'x'::REGclass"));
        assert!(super::mentions_trigger("select pg_database_size(1)"));
        assert!(!super::mentions_trigger("INSERT INTO t VALUES ($1, $2)"));
        assert!(!super::mentions_trigger(""));
    }
}
