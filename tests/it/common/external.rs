//! External databases for the gateway tests: a fresh PostgreSQL schema or MariaDB/MySQL
//! database per test on the local servers, and the source configuration pointing at it.
//!
//! PostgreSQL is 127.0.0.1:5432 (user postgres, database test; the schema is the source's
//! `search_path`), MariaDB 127.0.0.1:3306 (root, no password; the database is the source's).
//! Each is dropped by `ExternalDb::finish`, or by `Drop` when a test fails first. A server
//! that is not running skips the test with a printed note, unless `CI=true`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use starbase::config::{SourceConfig, SourceKind, SourceName};
use starbase_backends::external::config::ServerConfig;
use starbase_backends::mysql::MySqlBackend;
use starbase_backends::postgres::PgBackend;
use starbase_backends::sqlite::ExecOptions;
use starbase_backends::{AnyBackend, Event};
use starbase_protocol::{Dialect, ExecMode, Params, Plan, Statement};

use super::{ADMIN, TestGateway};

/// A schema (PostgreSQL) or database (MySQL) of one test.
pub struct ExternalDb {
    pub kind: SourceKind,
    pub namespace: String,
    /// PostgreSQL: the namespace is a database of its own rather than a schema of `test`.
    database: bool,
    admin: Option<AnyBackend>,
}

/// A name no other test uses.
pub fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    #[allow(clippy::cast_possible_truncation)]
    let mixed = (nanos as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("it_{mixed:016x}")
}

/// The local server's settings (database `test`).
pub fn server_config(kind: SourceKind) -> ServerConfig {
    let mut c = match kind {
        SourceKind::Postgres => ServerConfig::new("127.0.0.1", 5432, "postgres", "test"),
        SourceKind::MySql => ServerConfig::new("127.0.0.1", 3306, "root", "test"),
    };
    c.connect_timeout = Duration::from_secs(3);
    c.pool_size = 4;
    c
}

fn backend(kind: SourceKind, config: &ServerConfig) -> AnyBackend {
    match kind {
        SourceKind::Postgres => PgBackend::connect(config).unwrap().into(),
        SourceKind::MySql => MySqlBackend::connect(config).unwrap().into(),
    }
}

fn dialect(kind: SourceKind) -> Dialect {
    match kind {
        SourceKind::Postgres => Dialect::Postgres,
        SourceKind::MySql => Dialect::MySql,
    }
}

/// Runs one statement; the error's SQLSTATE and message on failure.
async fn run(db: &AnyBackend, kind: SourceKind, sql: &str) -> Result<(), String> {
    let plan = Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(sql, dialect(kind), Params::None)],
    };
    let mut stream = db
        .execute(plan, ExecOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    while let Some(event) = stream.recv().await {
        match event {
            Ok(Event::Finished) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("{} {e}", e.sqlstate())),
        }
    }
    Err("stream ended early".to_owned())
}

/// The tests run under CI, where a missing server fails a test rather than skipping it.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

impl ExternalDb {
    /// A fresh namespace on the local `kind` server, or `None` (after a printed note) when
    /// the server is not running outside CI.
    pub async fn start(kind: SourceKind) -> Option<ExternalDb> {
        Self::start_in(kind, false).await
    }

    /// A fresh database (on PostgreSQL too, not a schema) on the local `kind` server, or
    /// `None` as for [`ExternalDb::start`].
    pub async fn start_database(kind: SourceKind) -> Option<ExternalDb> {
        Self::start_in(kind, true).await
    }

    #[allow(clippy::print_stderr)] // the skip note must be visible
    async fn start_in(kind: SourceKind, database: bool) -> Option<ExternalDb> {
        let admin = backend(kind, &server_config(kind));
        let namespace = unique_name();
        let create = match kind {
            SourceKind::Postgres if !database => format!("CREATE SCHEMA {namespace}"),
            SourceKind::Postgres | SourceKind::MySql => format!("CREATE DATABASE {namespace}"),
        };
        match run(&admin, kind, &create).await {
            Ok(()) => Some(ExternalDb {
                kind,
                namespace,
                database,
                admin: Some(admin),
            }),
            Err(e) if e.starts_with("08") && !under_ci() => {
                eprintln!(
                    "skipped: {} server not reachable ({e}); set CI=true to fail instead",
                    kind.as_str()
                );
                admin.shutdown().await;
                None
            }
            Err(e) => panic!("{} server not usable: {e}", kind.as_str()),
        }
    }

    /// A source named `name` on this test's namespace.
    pub fn source(&self, name: &str) -> SourceConfig {
        let mut server = server_config(self.kind);
        match self.kind {
            SourceKind::Postgres if !self.database => {
                server.search_path = Some(self.namespace.clone());
            }
            SourceKind::Postgres | SourceKind::MySql => server.database = self.namespace.clone(),
        }
        SourceConfig {
            name: SourceName::parse(name).unwrap(),
            kind: self.kind,
            server,
        }
    }

    fn drop_sql(&self) -> String {
        match self.kind {
            SourceKind::Postgres if self.database => {
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.namespace)
            }
            SourceKind::Postgres => format!("DROP SCHEMA IF EXISTS {} CASCADE", self.namespace),
            SourceKind::MySql => format!("DROP DATABASE IF EXISTS {}", self.namespace),
        }
    }

    /// Drops the namespace.
    pub async fn finish(mut self) {
        if let Some(admin) = self.admin.take() {
            run(&admin, self.kind, &self.drop_sql()).await.unwrap();
            admin.shutdown().await;
        }
    }
}

impl Drop for ExternalDb {
    /// A test that failed before `finish` still drops its namespace, on a thread of its own
    /// (the test's runtime is unwinding).
    fn drop(&mut self) {
        if self.admin.take().is_none() {
            return;
        }
        let (kind, sql) = (self.kind, self.drop_sql());
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let admin = backend(kind, &server_config(kind));
                let _ = run(&admin, kind, &sql).await;
                admin.shutdown().await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Forwards every connection accepted on `listener` to 127.0.0.1:`target` until aborted: a
/// server that starts listening on a port that refused connections before.
pub async fn proxy(listener: tokio::net::TcpListener, target: u16) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        connections.spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// Generates one test per external backend for each suite function.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::SourceKind::Postgres).await }
        )* }
        mod mysql { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::SourceKind::MySql).await }
        )* }
    };
}

pub(crate) use on_both;

/// A gateway whose `external` and `warehouse` sources are both this test's namespace.
pub async fn gateway(kind: SourceKind) -> Option<(ExternalDb, TestGateway)> {
    let db = ExternalDb::start(kind).await?;
    let sources = vec![db.source("external"), db.source("warehouse")];
    let gw = TestGateway::start_with(|c| c.sources = sources).await;
    Some((db, gw))
}

/// POSTs `body` to `path` on `source` (by header), as admin.
pub async fn post_on(gw: &TestGateway, source: &str, path: &str, body: Value) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Runs one statement on `source` and returns the `result` (panics on error).
pub async fn query_on(gw: &TestGateway, source: &str, sql: &str, params: Value) -> Value {
    let (status, body) = post_on(gw, source, "/query", json!({"sql": sql, "params": params})).await;
    assert_eq!(status, 200, "{sql}: {body}");
    body["result"].clone()
}

pub const ITEMS: &str =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, price NUMERIC(10,2))";

/// The wire proxy's target for the local PostgreSQL's `test` database (tests make their own
/// schema in it), or `None` (after a note) when that server is not running outside CI.
#[allow(clippy::print_stderr)] // the skip note must be visible
pub async fn local_postgres_target() -> Option<starbase::frontend::pgwire::proxy::ProxyTarget> {
    let config = server_config(SourceKind::Postgres);
    let address = (config.host.as_str(), config.port);
    if tokio::net::TcpStream::connect(address).await.is_err() {
        assert!(
            !under_ci(),
            "PostgreSQL is not running on {}:{}",
            config.host,
            config.port
        );
        eprintln!(
            "skipped: PostgreSQL is not running on {}:{}",
            config.host, config.port
        );
        return None;
    }
    Some(starbase::frontend::pgwire::proxy::ProxyTarget {
        name: "external".to_owned(),
        host: config.host,
        port: config.port,
        user: config.user,
        password: None,
        database: config.database,
        connect_timeout: Duration::from_secs(5),
        tls_required: false,
        pool_size: 4,
        acquire_timeout: Duration::from_secs(5),
        pipeline: true,
    })
}

impl ExternalDb {
    /// The backend of a source on this test's namespace, as the gateway would build it.
    pub fn backend(&self, name: &str) -> AnyBackend {
        backend(self.kind, &self.source(name).server)
    }
}
