//! The pgwire client matrix: every real client program in `tests/clients/` (psql, pgbench,
//! psycopg 3, psycopg2, asyncpg, SQLAlchemy 2, node `pg`, pgJDBC) run against a gateway, with
//! the libpq env vars set on its `Command` only. Each program asserts its own checks and exits
//! non-zero on the first failure; this module only runs it and reports its output.
//!
//! A missing client runtime skips its test with a note, except under `CI=true`, where it fails:
//! `.ci/run` installs them all. `STARBASE_PYTHON` names the Python with the drivers (default
//! `python3`), `STARBASE_PGJDBC_JAR` the pgJDBC jar (default Debian's).

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

use crate::common::{ADMIN, TestGateway};

/// How long one client program may run before it counts as hung.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a runtime probe (`python -c 'import …'`, `java -version`) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";

/// libpq variables a developer's shell may carry that would change how a program connects.
const INHERITED_PG_VARS: &[&str] = &[
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGHOSTADDR",
    "PGPASSFILE",
    "PGTARGETSESSIONATTRS",
    "PGREQUIRESSL",
    "PGGSSENCMODE",
];

fn clients_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients"))
}

fn python() -> String {
    std::env::var("STARBASE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn pgjdbc_jar() -> String {
    std::env::var("STARBASE_PGJDBC_JAR").unwrap_or_else(|_| DEFAULT_PGJDBC_JAR.to_owned())
}

/// One client program and the probe that tells whether its runtime is installed.
struct Client {
    name: &'static str,
    program: String,
    args: Vec<String>,
    /// Commands that must all succeed for the runtime to count as present.
    probes: Vec<Vec<String>>,
}

impl Client {
    fn new(name: &'static str, program: impl Into<String>, args: &[&str]) -> Self {
        Self {
            name,
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            probes: Vec::new(),
        }
    }

    fn probe(mut self, command: &[&str]) -> Self {
        self.probes
            .push(command.iter().map(|a| (*a).to_owned()).collect());
        self
    }

    fn python(name: &'static str, script: &str, module: &str) -> Self {
        let python = python();
        let import = format!("import {module}");
        Self::new(name, python.clone(), &[script]).probe(&[&python, "-c", &import])
    }

    /// The first probe that fails, described, or `None` when the runtime is there.
    async fn missing_runtime(&self) -> Option<String> {
        for probe in &self.probes {
            let mut command = Command::new(&probe[0]);
            command
                .args(&probe[1..])
                .current_dir(clients_dir())
                .stdin(Stdio::null())
                .kill_on_drop(true);
            let failure = match tokio::time::timeout(PROBE_TIMEOUT, command.output()).await {
                Ok(Ok(out)) if out.status.success() => continue,
                Ok(Ok(out)) => format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr)),
                Ok(Err(err)) => err.to_string(),
                Err(_) => format!("no answer in {PROBE_TIMEOUT:?}"),
            };
            return Some(format!("`{}` failed ({})", probe.join(" "), failure.trim()));
        }
        None
    }

    /// Runs the program against `gw`'s database `database` as admin; its output once it has
    /// exited.
    async fn run_against(&self, gw: &TestGateway, database: &str) -> Output {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(clients_dir())
            .env("PGHOST", gw.pg.ip().to_string())
            .env("PGPORT", gw.pg.port().to_string())
            .env("PGUSER", "starbase")
            .env("PGPASSWORD", ADMIN)
            .env("PGDATABASE", database)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for var in INHERITED_PG_VARS {
            command.env_remove(var);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("{}: cannot start {}: {err}", self.name, self.program));
        match tokio::time::timeout(PROGRAM_TIMEOUT, child.wait_with_output()).await {
            Ok(output) => output.unwrap(),
            Err(_) => panic!(
                "{}: still running after {PROGRAM_TIMEOUT:?} (killed)",
                self.name
            ),
        }
    }
}

#[expect(
    clippy::print_stderr,
    reason = "a skipped client test says why on the test's own stderr"
)]
fn skip_note(name: &str, why: &str) {
    eprintln!("note: skipping the {name} client program: {why}");
}

/// Where a client program connects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Through {
    /// The embedded database.
    Embedded,
    /// The wire proxy to the local PostgreSQL (database `external`).
    Proxy,
}

/// Runs `client` against a fresh gateway's embedded database and asserts that it exits 0.
async fn run_client(client: Client) {
    run_client_through(client, Through::Embedded).await;
}

/// A gateway whose source `external` is the local PostgreSQL's `test` database, or `None`
/// (with a note) when that server is not running outside CI.
async fn proxy_gateway() -> Option<TestGateway> {
    let target = crate::common::external::local_postgres_target().await?;
    Some(TestGateway::start_with_proxy(vec![target]).await)
}

/// Runs `client` against a fresh gateway, embedded or through the proxy, and asserts that it
/// exits 0 after all its checks.
async fn run_client_through(client: Client, through: Through) {
    if let Some(why) = client.missing_runtime().await {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "the {} client's runtime is missing, and CI=true needs every client: {why} \
                 (.ci/run's \"client runtimes\" step installs it)",
                client.name
            );
        }
        skip_note(client.name, &why);
        return;
    }
    let (gw, database) = match through {
        Through::Embedded => (TestGateway::start().await, "main"),
        Through::Proxy => match proxy_gateway().await {
            Some(gw) => (gw, "external"),
            None => return,
        },
    };
    let output = client.run_against(&gw, database).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first_failure = stdout
        .lines()
        .find(|l| l.starts_with("FAIL "))
        .unwrap_or("(no FAIL line)");
    assert!(
        output.status.success(),
        "{} exited with {}: {first_failure}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        client.name,
        output.status
    );
    assert!(
        stdout.lines().any(|l| l == "ok all"),
        "{} exited 0 without finishing its checks\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        client.name
    );
    gw.stop().await;
}

#[tokio::test]
async fn psql_describe_commands_and_expanded_output() {
    let client = Client::new("psql", "bash", &["psql.sh"]).probe(&["psql", "--version"]);
    run_client(client).await;
}

#[tokio::test]
async fn pgbench_custom_select_script() {
    let client = Client::new("pgbench", "bash", &["pgbench.sh"])
        .probe(&["psql", "--version"])
        .probe(&["pgbench", "--version"]);
    run_client(client).await;
}

#[tokio::test]
async fn psycopg3() {
    run_client(Client::python("psycopg 3", "psycopg3_client.py", "psycopg")).await;
}

#[tokio::test]
async fn psycopg2() {
    run_client(Client::python("psycopg2", "psycopg2_client.py", "psycopg2")).await;
}

#[tokio::test]
async fn asyncpg() {
    run_client(Client::python("asyncpg", "asyncpg_client.py", "asyncpg")).await;
}

#[tokio::test]
async fn sqlalchemy() {
    let client = Client::python("SQLAlchemy", "sqlalchemy_client.py", "sqlalchemy, psycopg2");
    run_client(client).await;
}

#[tokio::test]
async fn node_pg() {
    let client = Client::new("node pg", "node", &["node_pg_client.js"]).probe(&[
        "node",
        "-e",
        "require('pg')",
    ]);
    run_client(client).await;
}

#[tokio::test]
async fn pgjdbc() {
    let jar = pgjdbc_jar();
    let client = Client::new("pgJDBC", "java", &["-cp", &jar, "JdbcClient.java"])
        .probe(&["java", "-version"])
        .probe(&["test", "-r", &jar]);
    run_client(client).await;
}

// The same programs through the wire proxy against the local PostgreSQL: they must behave
// exactly as they do connected to it directly (psql's expected output is the embedded
// database's, so it is not among them).

#[tokio::test]
async fn psycopg3_through_the_proxy() {
    let client = Client::python("psycopg 3 (proxied)", "psycopg3_client.py", "psycopg");
    run_client_through(client, Through::Proxy).await;
}

#[tokio::test]
async fn psycopg2_through_the_proxy() {
    let client = Client::python("psycopg2 (proxied)", "psycopg2_client.py", "psycopg2");
    run_client_through(client, Through::Proxy).await;
}

#[tokio::test]
async fn asyncpg_through_the_proxy() {
    let client = Client::python("asyncpg (proxied)", "asyncpg_client.py", "asyncpg");
    run_client_through(client, Through::Proxy).await;
}

#[tokio::test]
async fn sqlalchemy_through_the_proxy() {
    let client = Client::python(
        "SQLAlchemy (proxied)",
        "sqlalchemy_client.py",
        "sqlalchemy, psycopg2",
    );
    run_client_through(client, Through::Proxy).await;
}

#[tokio::test]
async fn node_pg_through_the_proxy() {
    let client = Client::new("node pg (proxied)", "node", &["node_pg_client.js"]).probe(&[
        "node",
        "-e",
        "require('pg')",
    ]);
    run_client_through(client, Through::Proxy).await;
}

#[tokio::test]
async fn pgjdbc_through_the_proxy() {
    let jar = pgjdbc_jar();
    let client = Client::new(
        "pgJDBC (proxied)",
        "java",
        &["-cp", &jar, "JdbcClient.java"],
    )
    .probe(&["java", "-version"])
    .probe(&["test", "-r", &jar]);
    run_client_through(client, Through::Proxy).await;
}
