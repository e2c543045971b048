//! The wire proxy to an external PostgreSQL: the database name `external` reaches the local
//! PostgreSQL server through the gateway, with the gateway's tokens, at full fidelity (the
//! server's own types, catalog, errors, COPY, cancel).

use std::time::Duration;

use starbase::config::SourceKind;
use tokio_postgres::NoTls;

use crate::common::external::{ExternalDb, local_postgres_target};
use crate::common::{ADMIN, TestGateway};

async fn connect(
    gw: &TestGateway,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let config = format!(
        "host=127.0.0.1 port={} user=anyone password={password} dbname=external",
        gw.pg.port()
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[tokio::test]
async fn external_database_reaches_postgres_with_full_fidelity() {
    let Some(target) = local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let c = connect(&gw, ADMIN).await.unwrap();
    let schema = format!("proxy_{}", std::process::id());
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}"
    ))
    .await
    .unwrap();
    // The server's own version and types: this is PostgreSQL, not the embedded database.
    let version: String = c.query_one("SELECT version()", &[]).await.unwrap().get(0);
    assert!(version.starts_with("PostgreSQL 1"), "{version}");
    assert!(!version.contains("Starbase"), "{version}");
    c.batch_execute(
        "CREATE TABLE t (id int4 PRIMARY KEY, tags text[], doc jsonb, at timestamptz DEFAULT now())",
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO t (id, tags, doc) VALUES ($1, $2, $3::jsonb)",
        &[&1i32, &vec!["a".to_owned(), "b".to_owned()], &"{\"k\": 1}"],
    )
    .await
    .unwrap_err(); // a &str is not jsonb for the driver: the server's real parameter types
    c.execute(
        "INSERT INTO t (id, tags) VALUES ($1, $2)",
        &[&1i32, &vec!["a".to_owned(), "b".to_owned()]],
    )
    .await
    .unwrap();
    let row = c.query_one("SELECT id, tags FROM t", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, Vec<String>>(1), vec!["a", "b"]);
    // Errors keep every field the server sent.
    let err = c
        .execute("INSERT INTO t (id) VALUES (1)", &[])
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "23505");
    assert_eq!(db.constraint(), Some("t_pkey"));
    assert!(db.detail().unwrap_or_default().contains("(id)=(1)"));
    // COPY works, as it does directly.
    let sink = c.copy_in("COPY t (id) FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    use futures::SinkExt;
    sink.send(bytes::Bytes::from_static(b"2\n3\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    // Cancel reaches the server.
    let token = c.cancel_token();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = c.batch_execute("SELECT pg_sleep(30)").await.unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("57014"));
    cancel.await.unwrap();
    // psql's \d is answered by the server's own catalog.
    let conninfo = format!(
        "host=127.0.0.1 port={} user=anyone dbname=external options=-csearch_path={schema}",
        gw.pg.port()
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("psql")
            .args([conninfo.as_str(), "-X", "-c", "\\d t"])
            .env("PGPASSWORD", ADMIN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("integer") && text.contains("text[]") && text.contains("jsonb"),
        "{text}"
    );
    assert!(
        text.contains("\"t_pkey\" PRIMARY KEY, btree (id)"),
        "{text}"
    );
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_proxy_checks_the_gateway_password_and_reports_unreachable_servers() {
    let Some(mut target) = local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy(vec![target.clone()]).await;
    let err = connect(&gw, "wrong").await.expect_err("wrong password");
    assert_eq!(err.code().map(|s| s.code()), Some("28P01"));
    // A source whose server is down: FATAL 08006, quickly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    target.port = closed.local_addr().unwrap().port();
    drop(closed);
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let err = connect(&gw, ADMIN).await.expect_err("server is down");
    assert_eq!(err.code().map(|s| s.code()), Some("08006"), "{err:?}");
    // The embedded database is still served on the same listener.
    let c = gw.pg_client().await;
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn a_mysql_source_is_served_over_the_wire() {
    let Some(db) = ExternalDb::start(SourceKind::MySql).await else {
        return;
    };
    let gw =
        TestGateway::start_with_wire_sources([("maria".to_owned(), db.backend("maria"))].into())
            .await;
    let config = format!(
        "host=127.0.0.1 port={} user=anyone password={ADMIN} dbname=maria",
        gw.pg.port()
    );
    let (c, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    c.batch_execute(
        "SET extra_float_digits = 3; CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(20), \
         price DECIMAL(10,2), ok BOOLEAN)",
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO t (id, name, price, ok) VALUES ($1, $2, 9.50, true)",
        &[&7i64, &"seven"],
    )
    .await
    .unwrap();
    let row = c
        .query_one("SELECT id, name, ok FROM t WHERE id = $1", &[&7i64])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 7);
    assert_eq!(row.get::<_, &str>(1), "seven");
    assert!(row.get::<_, bool>(2));
    let err = c
        .execute("INSERT INTO t (id) VALUES (7)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("23505"));
    db.finish().await;
}
