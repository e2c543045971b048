//! A PostgreSQL source reached over its Unix-domain socket, the host being the socket's
//! directory as in libpq: HTTP queries, the wire proxy (a transaction, a prepared
//! statement, a cancel request) and a directory with no server in it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use starbase::config::{SourceConfig, SourceKind};
use starbase_backends::external::config::TlsMode;
use tokio_postgres::NoTls;

use crate::common::external::{ExternalDb, post_on, query_on, under_ci};
use crate::common::{ADMIN, TestGateway};

/// Where the local PostgreSQL keeps its socket.
const SOCKET_DIR: &str = "/var/run/postgresql";

/// A fresh database on the local server and the `external` source reaching it through the
/// socket, or `None` (after a note) when there is no socket outside CI. The source asks for
/// TLS, which does not apply to a socket (libpq ignores `sslmode` there too).
#[allow(clippy::print_stderr)] // the skip note must be visible
async fn socket_source() -> Option<(ExternalDb, SourceConfig)> {
    if !Path::new(SOCKET_DIR).join(".s.PGSQL.5432").exists() {
        assert!(!under_ci(), "no PostgreSQL socket in {SOCKET_DIR}");
        eprintln!("skipped: no PostgreSQL socket in {SOCKET_DIR}");
        return None;
    }
    let db = ExternalDb::start_database(SourceKind::Postgres).await?;
    let mut source = db.source("external");
    source.server.host = SOCKET_DIR.to_owned();
    source.server.tls = TlsMode::Require;
    Some((db, source))
}

async fn connect(gw: &TestGateway) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    gw.pg_connect_to("external", ADMIN).await
}

#[tokio::test]
async fn http_queries_reach_a_socket_source() {
    let Some((db, source)) = socket_source().await else {
        return;
    };
    let gw = TestGateway::start_with(|c| c.sources = vec![source]).await;
    query_on(
        &gw,
        "external",
        "CREATE TABLE t (id int PRIMARY KEY, name text)",
        json!([]),
    )
    .await;
    query_on(
        &gw,
        "external",
        "INSERT INTO t VALUES ($1, $2)",
        json!([1, "one"]),
    )
    .await;
    // The server sees a socket connection: it has no client address.
    let rows = query_on(
        &gw,
        "external",
        "SELECT name, inet_client_addr() IS NULL AS unix FROM t",
        json!([]),
    )
    .await;
    assert_eq!(rows, json!([{"name": "one", "unix": true}]));
    gw.stop().await;
    db.finish().await;
}

#[tokio::test]
async fn the_wire_proxy_reaches_a_socket_source() {
    let Some((db, source)) = socket_source().await else {
        return;
    };
    let gw = TestGateway::start_with(|c| c.sources = vec![source]).await;
    let c = connect(&gw).await.unwrap();
    let unix: bool = c
        .query_one("SELECT inet_client_addr() IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(unix, "the proxy connects through the socket");
    // A transaction stays on one server connection; a rollback undoes it.
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    c.batch_execute("BEGIN; INSERT INTO t VALUES (1); COMMIT")
        .await
        .unwrap();
    c.batch_execute("BEGIN; INSERT INTO t VALUES (2)")
        .await
        .unwrap();
    c.batch_execute("ROLLBACK").await.unwrap();
    // A prepared statement, run twice.
    let statement = c
        .prepare("SELECT count(*) FROM t WHERE id >= $1")
        .await
        .unwrap();
    for (from, count) in [(1i32, 1i64), (2, 0)] {
        let n: i64 = c.query_one(&statement, &[&from]).await.unwrap().get(0);
        assert_eq!(n, count, "ids from {from}");
    }
    // A cancel request through the gateway reaches the statement on the socket.
    let token = c.cancel_token();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let started = Instant::now();
    let err = c.batch_execute("SELECT pg_sleep(10)").await.unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("57014"), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    cancel.await.unwrap();
    // The session goes on after the cancel.
    let n: i64 = c.query_one(&statement, &[&1i32]).await.unwrap().get(0);
    assert_eq!(n, 1);
    drop(c);
    gw.stop().await;
    db.finish().await;
}

#[tokio::test]
async fn a_socket_directory_without_a_server_fails_fast_with_08006() {
    let Some((db, mut source)) = socket_source().await else {
        return;
    };
    let empty = tempfile::tempdir().unwrap();
    source.server.host = empty.path().to_string_lossy().into_owned();
    source.server.connect_timeout = Duration::from_secs(2);
    let socket = empty.path().join(".s.PGSQL.5432");
    let socket = socket.to_string_lossy();
    let gw = TestGateway::start_with(|c| c.sources = vec![source]).await;

    let started = Instant::now();
    let (status, body) =
        post_on(&gw, "external", "/query", json!({"sql": "SELECT 1 AS one"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("08006")),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains(socket.as_ref()),
        "the message names the socket: {body}"
    );

    let err = connect(&gw).await.expect_err("no server in the directory");
    assert_eq!(err.code().map(|s| s.code()), Some("08006"), "{err:?}");
    let message = err.as_db_error().map(|e| e.message().to_owned());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains(socket.as_ref())),
        "{message:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fails fast: {:?}",
        started.elapsed()
    );
    gw.stop().await;
    db.finish().await;
}
