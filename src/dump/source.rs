//! Where a dump reads from: one consistent snapshot of the source, paged by key.
//!
//! Owns `DumpSource` (SQLite: a read transaction on a connection of its own; PostgreSQL:
//! `REPEATABLE READ READ ONLY`; MySQL/MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT`
//! on one pinned connection), the catalog queries that plan a dump (tables, columns, keys)
//! and the keyset page query (`WHERE key > last ORDER BY key LIMIT n`; never `OFFSET`).
//! Names sent to SQL come from the source's catalog, quoted for its dialect. Must not know
//! formats or storage.

use starbase_backends::sqlite::{DumpSnapshot, ExecOptions};
use starbase_backends::{AnySession, Event, ResultStream, SessionConfig};
use starbase_protocol::{
    DbError, Dialect, ExecMode, Params, Plan, Row, SqlState, Statement, Value,
};

use super::model::{DumpRequest, Format, JobPlan, SchemaObject, Unit, UnitKind};
use crate::engine::{Engine, Target};
use crate::error::Error;

/// SQLite's schema in creation order (as `GET /export/dump` writes it).
const SQLITE_SCHEMA: &str = "SELECT type, name, tbl_name, sql FROM sqlite_schema \
     WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid";

const PG_TABLES: &str = "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND pg_catalog.pg_table_is_visible(c.oid) \
     ORDER BY c.relname";
const PG_COLUMNS: &str = "SELECT attname::text FROM pg_catalog.pg_attribute \
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum";
const PG_KEY: &str = "SELECT a.attname::text FROM pg_catalog.pg_index i \
     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
     WHERE i.indrelid = $1::regclass AND i.indisprimary \
     ORDER BY array_position(i.indkey::int2[], a.attnum)";
/// The planner's estimate of a table's rows now: its rows per page at the last `ANALYZE`
/// or `VACUUM` times its pages now (as the planner scales it); `NULL` when never analyzed.
const PG_ESTIMATE: &str = "SELECT CASE WHEN c.reltuples >= 0 AND c.relpages > 0 THEN \
     (c.reltuples / c.relpages * (pg_catalog.pg_relation_size(c.oid) \
     / pg_catalog.current_setting('block_size')::float8))::int8 END \
     FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass";
/// MySQL's and MariaDB's estimate of a table's rows: InnoDB's from its sampled statistics
/// (exact for MyISAM, `NULL` for what has none).
const MYSQL_ESTIMATE: &str = "SELECT table_rows FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_name = $1";
/// Above this estimate an external table is not counted (see [`DumpSource::count`]).
pub const ESTIMATED_ROWS: u64 = 100_000;
const MYSQL_TABLES: &str = "SELECT table_name FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name";
const MYSQL_COLUMNS: &str = "SELECT column_name FROM information_schema.columns \
     WHERE table_schema = DATABASE() AND table_name = $1 ORDER BY ordinal_position";
const MYSQL_KEY: &str = "SELECT column_name FROM information_schema.key_column_usage \
     WHERE table_schema = DATABASE() AND table_name = $1 AND constraint_name = 'PRIMARY' \
     ORDER BY ordinal_position";

/// A consistent snapshot of one source.
#[derive(Debug)]
pub enum DumpSource {
    /// The embedded database.
    Sqlite(DumpSnapshot),
    /// An external server, a transaction open on one pinned connection.
    External {
        /// The pinned session.
        session: AnySession,
        /// Its dialect.
        dialect: Dialect,
    },
}

impl DumpSource {
    /// Opens the snapshot.
    ///
    /// # Errors
    /// `3D000` for an unknown source; the backend's errors (`08006` when it is down).
    pub async fn open(engine: &Engine, target: &Target) -> Result<Self, Error> {
        match target {
            Target::Internal => Ok(DumpSource::Sqlite(engine.sqlite().dump_snapshot().await?)),
            Target::External(name) => {
                let backend = engine.sources().backend(name)?;
                let dialect = backend.dialect();
                let session = backend.session(SessionConfig {
                    idle_in_transaction_timeout: None,
                });
                let mut source = DumpSource::External { session, dialect };
                let begin: &[&str] = match dialect {
                    Dialect::MySql => &[
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                    ],
                    Dialect::Postgres | Dialect::Sqlite => {
                        &["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"]
                    }
                };
                let steps = begin
                    .iter()
                    .map(|sql| Statement::new(*sql, dialect, Params::None))
                    .collect();
                let stream = source
                    .run(Plan {
                        mode: ExecMode::Batch,
                        steps,
                    })
                    .await?;
                drain(stream).await?;
                Ok(source)
            }
        }
    }

    /// The source's dialect.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        match self {
            DumpSource::Sqlite(_) => Dialect::Sqlite,
            DumpSource::External { dialect, .. } => *dialect,
        }
    }

    async fn run(&mut self, plan: Plan) -> Result<ResultStream, Error> {
        let opts = ExecOptions {
            statement_timeout: None,
        };
        Ok(match self {
            DumpSource::Sqlite(snapshot) => snapshot.execute(plan, opts).await?,
            DumpSource::External { session, .. } => session.execute(plan, opts).await?,
        })
    }

    /// Runs one statement inside the snapshot and returns its stream.
    ///
    /// # Errors
    /// The backend's errors.
    pub async fn query(&mut self, sql: String, params: Vec<Value>) -> Result<ResultStream, Error> {
        let params = if params.is_empty() {
            Params::None
        } else {
            Params::Positional(params)
        };
        let dialect = self.dialect();
        self.run(Plan {
            mode: ExecMode::Single,
            steps: vec![Statement::new(sql, dialect, params)],
        })
        .await
    }

    /// Runs one small catalog statement and collects its rows.
    async fn rows(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, Error> {
        let stream = self.query(sql.to_owned(), params).await?;
        drain(stream).await
    }

    /// Ends the snapshot.
    pub async fn close(self) {
        match self {
            DumpSource::Sqlite(snapshot) => snapshot.close().await,
            DumpSource::External { session, .. } => session.close().await,
        }
    }

    /// Quotes an identifier for the source.
    #[must_use]
    pub fn quote(&self, ident: &str) -> String {
        quote(self.dialect(), ident)
    }

    /// Plans the dump: its units in output order, with columns and keys.
    ///
    /// # Errors
    /// `42P01` for a requested table that does not exist; `0A000` for a table without a
    /// usable key on SQLite; the backend's errors.
    pub async fn plan(&mut self, request: &DumpRequest) -> Result<JobPlan, Error> {
        let mut plan = match self.dialect() {
            Dialect::Sqlite => self.plan_sqlite().await?,
            Dialect::Postgres | Dialect::MySql => self.plan_external().await?,
        };
        if let Some(wanted) = &request.tables {
            let mut units = Vec::new();
            for name in wanted {
                let found = plan
                    .units
                    .iter()
                    .find(|u| u.kind == UnitKind::Table && &u.name == name)
                    .or_else(|| {
                        plan.units.iter().find(|u| {
                            u.kind == UnitKind::Table && u.name.eq_ignore_ascii_case(name)
                        })
                    });
                match found {
                    Some(unit) if !units.contains(unit) => units.push(unit.clone()),
                    Some(_) => {}
                    None => {
                        return Err(DbError::new(
                            SqlState::UNDEFINED_TABLE,
                            format!("relation \"{name}\" does not exist"),
                        )
                        .into());
                    }
                }
            }
            plan.units = units;
            // Views may read any table: they are kept only for a whole-database dump.
            plan.schema
                .retain(|o| o.kind != "view" && plan.units.iter().any(|u| u.name == o.table));
        }
        let with_schema = request.format == Format::Sql
            && request.include_schema.unwrap_or(true)
            && self.dialect() == Dialect::Sqlite;
        let mut units = Vec::with_capacity(plan.units.len() + 2);
        if with_schema {
            units.push(special(UnitKind::Schema));
        }
        units.append(&mut plan.units);
        if with_schema {
            units.push(special(UnitKind::Post));
        }
        plan.units = units;
        if !with_schema {
            plan.schema.clear();
        }
        Ok(plan)
    }

    async fn plan_sqlite(&mut self) -> Result<JobPlan, Error> {
        let objects: Vec<SchemaObject> = self
            .rows(SQLITE_SCHEMA, vec![])
            .await?
            .iter()
            .map(|r| SchemaObject {
                kind: text_at(r, 0),
                name: text_at(r, 1),
                table: text_at(r, 2),
                sql: text_at(r, 3),
            })
            .collect();
        let mut units = Vec::new();
        for object in objects.iter().filter(|o| o.is_data_table()) {
            let columns: Vec<String> = self
                .rows(
                    "SELECT name FROM pragma_table_xinfo($1) WHERE hidden = 0 ORDER BY cid",
                    vec![Value::Text(object.name.clone())],
                )
                .await?
                .iter()
                .map(|r| text_at(r, 0))
                .collect();
            let without_rowid = !self
                .rows(
                    "SELECT 1 FROM pragma_table_list WHERE schema = 'main' AND name = $1 AND wr = 1",
                    vec![Value::Text(object.name.clone())],
                )
                .await?
                .is_empty();
            let key = if without_rowid {
                self.rows(
                    "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
                    vec![Value::Text(object.name.clone())],
                )
                .await?
                .iter()
                .map(|r| quote(Dialect::Sqlite, &text_at(r, 0)))
                .collect()
            } else {
                let all: Vec<String> = self
                    .rows(
                        "SELECT lower(name) FROM pragma_table_xinfo($1)",
                        vec![Value::Text(object.name.clone())],
                    )
                    .await?
                    .iter()
                    .map(|r| text_at(r, 0))
                    .collect();
                let alias = ["_rowid_", "rowid", "oid"]
                    .into_iter()
                    .find(|a| !all.iter().any(|c| c == a))
                    .ok_or_else(|| {
                        DbError::new(
                            SqlState::FEATURE_NOT_SUPPORTED,
                            format!(
                                "table \"{}\" has columns named _rowid_, rowid and oid; its rowid cannot be read",
                                object.name
                            ),
                        )
                    })?;
                vec![alias.to_owned()]
            };
            units.push(Unit {
                kind: UnitKind::Table,
                name: object.name.clone(),
                qualified: format!("main.{}", quote(Dialect::Sqlite, &object.name)),
                columns,
                key,
            });
        }
        let has_sequence = !self
            .rows(
                "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'",
                vec![],
            )
            .await?
            .is_empty();
        Ok(JobPlan {
            units,
            schema: objects,
            has_sequence,
        })
    }

    async fn plan_external(&mut self) -> Result<JobPlan, Error> {
        let dialect = self.dialect();
        let (tables_sql, columns_sql, key_sql) = match dialect {
            Dialect::MySql => (MYSQL_TABLES, MYSQL_COLUMNS, MYSQL_KEY),
            Dialect::Postgres | Dialect::Sqlite => (PG_TABLES, PG_COLUMNS, PG_KEY),
        };
        let tables = self.rows(tables_sql, vec![]).await?;
        let mut units = Vec::new();
        for row in &tables {
            let (name, qualified, lookup) = match dialect {
                Dialect::MySql => {
                    let name = text_at(row, 0);
                    (name.clone(), quote(dialect, &name), name)
                }
                Dialect::Postgres | Dialect::Sqlite => {
                    let (schema, name) = (text_at(row, 0), text_at(row, 1));
                    let qualified =
                        format!("{}.{}", quote(dialect, &schema), quote(dialect, &name));
                    (name, qualified.clone(), qualified)
                }
            };
            let columns = self
                .rows(columns_sql, vec![Value::Text(lookup.clone())])
                .await?
                .iter()
                .map(|r| text_at(r, 0))
                .collect();
            let key = self
                .rows(key_sql, vec![Value::Text(lookup)])
                .await?
                .iter()
                .map(|r| quote(dialect, &text_at(r, 0)))
                .collect();
            units.push(Unit {
                kind: UnitKind::Table,
                name,
                qualified,
                columns,
                key,
            });
        }
        Ok(JobPlan {
            units,
            schema: Vec::new(),
            has_sequence: false,
        })
    }

    /// Rows of `unit` in this snapshot, for the progress: counted, except an external
    /// table its catalog puts above [`ESTIMATED_ROWS`], which takes the catalog's
    /// estimate (PostgreSQL's planner's; InnoDB's statistics on MySQL and MariaDB, which
    /// MySQL 8 caches for `information_schema_stats_expiry`). Counting reads the whole
    /// table in a server process at the live queries' priority: one `count(*)` of a million
    /// rows a second took PostgreSQL's point-select p99 from 1 to 15–22 ms on two cores.
    /// A table with no estimate (never analyzed) is counted.
    ///
    /// # Errors
    /// The backend's errors.
    pub async fn count(&mut self, unit: &Unit) -> Result<u64, Error> {
        if unit.kind != UnitKind::Table {
            return Ok(0);
        }
        let estimate = match self {
            Self::External {
                dialect: Dialect::Postgres,
                ..
            } => Some((PG_ESTIMATE, &unit.qualified)),
            Self::External {
                dialect: Dialect::MySql,
                ..
            } => Some((MYSQL_ESTIMATE, &unit.name)),
            _ => None,
        };
        if let Some((sql, table)) = estimate {
            let rows = self.rows(sql, vec![Value::Text(table.clone())]).await?;
            let estimate = rows.first().and_then(|r| r.first()).map_or(0, as_count);
            if estimate > ESTIMATED_ROWS {
                return Ok(estimate);
            }
        }
        let rows = self
            .rows(&format!("SELECT count(*) FROM {}", unit.qualified), vec![])
            .await?;
        Ok(rows.first().and_then(|r| r.first()).map_or(0, as_count))
    }

    /// The page query of `unit`: its key columns first, then its columns, after the key
    /// `$1…$n` when `after` (row-value comparison), ordered by the key, at most `limit`
    /// rows. A table without a key is read in one pass, in no particular order.
    #[must_use]
    pub fn page_sql(&self, unit: &Unit, after: bool, limit: u64) -> String {
        let mut sql = String::from("SELECT ");
        let mut first = true;
        for k in &unit.key {
            if !first {
                sql.push_str(", ");
            }
            first = false;
            sql.push_str(k);
        }
        for c in &unit.columns {
            if !first {
                sql.push_str(", ");
            }
            first = false;
            sql.push_str(&self.quote(c));
        }
        sql.push_str(" FROM ");
        sql.push_str(&unit.qualified);
        if unit.key.is_empty() {
            return sql;
        }
        let keys = unit.key.join(", ");
        if after {
            let params: Vec<String> = (1..=unit.key.len()).map(|i| format!("${i}")).collect();
            if unit.key.len() == 1 {
                sql.push_str(&format!(" WHERE {keys} > {}", params.join(", ")));
            } else {
                sql.push_str(&format!(" WHERE ({keys}) > ({})", params.join(", ")));
            }
        }
        sql.push_str(&format!(" ORDER BY {keys} LIMIT {limit}"));
        sql
    }
}

fn special(kind: UnitKind) -> Unit {
    Unit {
        kind,
        name: String::new(),
        qualified: String::new(),
        columns: Vec::new(),
        key: Vec::new(),
    }
}

/// Quotes an identifier for `dialect`.
#[must_use]
pub fn quote(dialect: Dialect, ident: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// A count or estimate as the driver returns it (`0` for `NULL`: no estimate).
fn as_count(value: &Value) -> u64 {
    match value {
        Value::Int(n) => u64::try_from(*n).unwrap_or(0),
        Value::Numeric(s) | Value::Text(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn text_at(row: &Row, i: usize) -> String {
    match row.get(i) {
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// Reads a stream to its end, collecting rows.
///
/// # Errors
/// The stream's error; `XX000` when it stops early.
pub async fn drain(mut stream: ResultStream) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    loop {
        match stream.recv().await {
            Some(Ok(Event::Rows(batch))) => rows.extend(batch),
            Some(Ok(Event::Finished)) => return Ok(rows),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(DbError::internal("the dump's source stopped early").into()),
        }
    }
}
