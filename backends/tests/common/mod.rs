//! Harness for the conformance suite: one fresh database per test on each backend, and
//! helpers to run plans and read results in their HTTP (JSON) form.
//!
//! SQLite gets a temporary file; PostgreSQL (127.0.0.1:5432, user postgres, database test)
//! a schema `t_<random>` set as the pool's `search_path`; MariaDB/MySQL (127.0.0.1:3306,
//! root, no password) a database `t_<random>`. Each is dropped by `Harness::finish`. When a
//! server is missing the test prints a note and returns, unless `CI=true`, where it fails.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub(crate) mod network;

/// Generates one `#[tokio::test]` per backend for each suite function.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::BackendKind::Sqlite).await }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::BackendKind::Postgres).await }
        )* }
        mod mysql { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::BackendKind::MySql).await }
        )* }
    };
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use starbase_backends::external::config::ServerConfig;
use starbase_backends::mysql::MySqlBackend;
use starbase_backends::postgres::PgBackend;
use starbase_backends::sqlite::{ExecOptions, SqliteBackend, SqliteConfig};
use starbase_backends::{AnyBackend, AnySession, BackendKind, Error, Event, ResultStream};
use starbase_protocol::{Column, ColumnType, ExecMode, Params, Plan, Row, Statement, Value};
use tempfile::TempDir;

/// A backend with its own empty database.
pub(crate) struct Harness {
    pub(crate) kind: BackendKind,
    pub(crate) db: AnyBackend,
    /// PostgreSQL schema or MySQL database name (empty for SQLite).
    pub(crate) name: String,
    admin: Option<AnyBackend>,
    _dir: Option<TempDir>,
}

/// A name no other test uses.
#[allow(clippy::cast_possible_truncation)]
pub(crate) fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mixed = (nanos as u64) /* low bits are enough */
        ^ (u64::from(std::process::id()) << 32)
        ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("t_{mixed:016x}")
}

/// Settings for the local PostgreSQL server.
pub(crate) fn pg_config() -> ServerConfig {
    let mut c = ServerConfig::new("127.0.0.1", 5432, "postgres", "test");
    c.connect_timeout = Duration::from_secs(3);
    c.pool_size = 4;
    c
}

/// Settings for the local MariaDB/MySQL server.
pub(crate) fn mysql_config() -> ServerConfig {
    let mut c = ServerConfig::new("127.0.0.1", 3306, "root", "test");
    c.connect_timeout = Duration::from_secs(3);
    c.pool_size = 4;
    c
}

/// A plan of one statement per SQL text, in `mode`.
pub(crate) fn plan(kind: BackendKind, mode: ExecMode, steps: &[(&str, Params)]) -> Plan {
    Plan {
        mode,
        steps: steps
            .iter()
            .map(|(sql, params)| Statement::new(*sql, kind.dialect(), params.clone()))
            .collect(),
    }
}

/// What a plan produced.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: Vec<Row>,
    pub(crate) written: u64,
}

/// Reads a stream to its end.
pub(crate) async fn drain(mut rx: ResultStream) -> Result<Outcome, Error> {
    let mut out = Outcome::default();
    while let Some(item) = rx.recv().await {
        match item? {
            Event::Columns(c) if !c.is_empty() => out.columns = c.to_vec(),
            Event::Rows(batch) => out.rows.extend(batch),
            Event::Done(d) => out.written += d.rows_written,
            Event::Finished => return Ok(out),
            _ => {}
        }
    }
    panic!("stream ended without Finished or an error");
}

/// A value as the HTTP API renders it: JSON, with SQLite's BOOLEAN columns as booleans.
pub(crate) fn http(column: &Column, value: &starbase_protocol::Value) -> serde_json::Value {
    let json = serde_json::to_value(value).unwrap();
    match (column.ty, &json) {
        (ColumnType::Bool, serde_json::Value::Number(n)) => {
            serde_json::Value::Bool(n.as_i64() != Some(0))
        }
        _ => json,
    }
}

/// The rows of an outcome in HTTP form.
pub(crate) fn http_rows(out: &Outcome) -> Vec<Vec<serde_json::Value>> {
    out.rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(&out.columns)
                .map(|(v, c)| http(c, v))
                .collect()
        })
        .collect()
}

/// `CI=true`: missing servers fail the test.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

impl Harness {
    /// A fresh database on `kind`, or `None` (after a printed note) when its server is not
    /// running outside CI.
    pub(crate) async fn start(kind: BackendKind) -> Option<Harness> {
        match kind {
            BackendKind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let db =
                    SqliteBackend::open(SqliteConfig::new(dir.path().join("db.sqlite"))).unwrap();
                Some(Harness {
                    kind,
                    db: AnyBackend::Sqlite(db),
                    name: String::new(),
                    admin: None,
                    _dir: Some(dir),
                })
            }
            BackendKind::Postgres => {
                let admin = AnyBackend::Postgres(PgBackend::connect(&pg_config()).unwrap());
                let name = unique_name();
                if !server_up(kind, &admin, &format!("CREATE SCHEMA {name}")).await {
                    return None;
                }
                let mut config = pg_config();
                config.search_path = Some(name.clone());
                let db = AnyBackend::Postgres(PgBackend::connect(&config).unwrap());
                Some(Harness {
                    kind,
                    db,
                    name,
                    admin: Some(admin),
                    _dir: None,
                })
            }
            BackendKind::MySql => {
                let admin = AnyBackend::MySql(MySqlBackend::connect(&mysql_config()).unwrap());
                let name = unique_name();
                if !server_up(kind, &admin, &format!("CREATE DATABASE {name}")).await {
                    return None;
                }
                let mut config = mysql_config();
                config.database = name.clone();
                let db = AnyBackend::MySql(MySqlBackend::connect(&config).unwrap());
                Some(Harness {
                    kind,
                    db,
                    name,
                    admin: Some(admin),
                    _dir: None,
                })
            }
        }
    }

    /// Drops the test's schema or database and shuts the backends down.
    pub(crate) async fn finish(mut self) {
        self.db.shutdown().await;
        if let Some(admin) = self.admin.take() {
            drain(
                admin
                    .execute(self.drop_plan(), ExecOptions::default())
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
            admin.shutdown().await;
        }
    }

    /// `DROP SCHEMA … CASCADE` or `DROP DATABASE …` for the test's namespace.
    fn drop_plan(&self) -> Plan {
        let drop = match self.kind {
            BackendKind::Postgres => format!("DROP SCHEMA {} CASCADE", self.name),
            _ => format!("DROP DATABASE {}", self.name),
        };
        plan(self.kind, ExecMode::Single, &[(&drop, Params::None)])
    }

    /// Runs one statement without parameters.
    pub(crate) async fn run(&self, sql: &str) -> Result<Outcome, Error> {
        self.run_with(sql, Params::None).await
    }

    /// Runs one statement with parameters.
    pub(crate) async fn run_with(&self, sql: &str, params: Params) -> Result<Outcome, Error> {
        self.plan(ExecMode::Single, &[(sql, params)]).await
    }

    /// Runs a plan.
    pub(crate) async fn plan(
        &self,
        mode: ExecMode,
        steps: &[(&str, Params)],
    ) -> Result<Outcome, Error> {
        let stream = self
            .db
            .execute(plan(self.kind, mode, steps), ExecOptions::default())
            .await?;
        drain(stream).await
    }
}

impl Drop for Harness {
    /// A test that failed before `finish` still drops its schema or database: on a thread
    /// of its own with a fresh runtime and connection (the test's runtime is unwinding).
    fn drop(&mut self) {
        if self.admin.take().is_none() {
            return;
        }
        let (kind, plan) = (self.kind, self.drop_plan());
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let admin = match kind {
                    BackendKind::Postgres => PgBackend::connect(&pg_config()).map(AnyBackend::from),
                    _ => MySqlBackend::connect(&mysql_config()).map(AnyBackend::from),
                };
                if let Ok(admin) = admin {
                    if let Ok(stream) = admin.execute(plan, ExecOptions::default()).await {
                        let _ = drain(stream).await;
                    }
                    admin.shutdown().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Runs `setup` on the admin backend; false (with a note) when the server is down outside CI.
async fn server_up(kind: BackendKind, admin: &AnyBackend, setup: &str) -> bool {
    let stream = admin
        .execute(
            plan(kind, ExecMode::Single, &[(setup, Params::None)]),
            ExecOptions::default(),
        )
        .await
        .unwrap();
    match drain(stream).await {
        Ok(_) => true,
        Err(e) if e.sqlstate().class() == "08" && !under_ci() => {
            eprintln!("skipped: {kind:?} server not reachable ({e}); set CI=true to fail instead");
            false
        }
        Err(e) => panic!("{kind:?} server not usable: {e} ({})", e.sqlstate()),
    }
}

pub(crate) fn code(result: Result<Outcome, Error>) -> String {
    match result {
        Ok(out) => panic!("expected an error, got {:?}", out.rows),
        Err(e) => e.sqlstate().as_str().to_owned(),
    }
}

pub(crate) fn positional(values: Vec<Value>) -> Params {
    Params::Positional(values)
}

pub(crate) async fn srun(
    s: &mut AnySession,
    kind: BackendKind,
    sql: &str,
) -> Result<Outcome, Error> {
    let stream = s
        .execute(
            plan(kind, ExecMode::Single, &[(sql, Params::None)]),
            ExecOptions::default(),
        )
        .await?;
    drain(stream).await
}

pub(crate) async fn count(h: &Harness, table: &str) -> Value {
    h.run(&format!("SELECT count(*) FROM {table}"))
        .await
        .unwrap()
        .rows[0][0]
        .clone()
}
