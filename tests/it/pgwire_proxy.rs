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
    gw.pg_connect_to("external", password).await
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

/// A gateway serving `db` (a MySQL source) over pgwire as the database `maria`, and a
/// client connected to it.
async fn mysql_over_the_wire(db: &ExternalDb) -> (TestGateway, tokio_postgres::Client) {
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
    (gw, c)
}

#[tokio::test]
async fn a_mysql_source_is_served_over_the_wire() {
    let Some(db) = ExternalDb::start(SourceKind::MySql).await else {
        return;
    };
    let (_gw, c) = mysql_over_the_wire(&db).await;
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

pub(crate) async fn connect_as(gw: &TestGateway, application_name: &str) -> tokio_postgres::Client {
    let config = format!(
        "host=127.0.0.1 port={} user=anyone password={ADMIN} dbname=external \
         application_name={application_name}",
        gw.pg.port()
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

pub(crate) async fn direct_postgres() -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect("host=127.0.0.1 port=5432 user=postgres dbname=test", NoTls)
            .await
            .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn show(c: &tokio_postgres::Client, what: &str) -> String {
    let sql = if what == "pid" {
        "SELECT pg_backend_pid()".to_owned()
    } else {
        format!("SHOW {what}")
    };
    let rows = c.simple_query(&sql).await.unwrap();
    rows.iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap()
}

/// The server process a client's statement runs on (a simple query: nothing else is sent
/// in the background, unlike a prepared statement's later `Close`).
async fn backend_pid(c: &tokio_postgres::Client) -> i32 {
    show(c, "pid").await.parse().unwrap()
}

#[tokio::test]
async fn clients_share_pooled_server_connections_and_transactions_stay_on_one() {
    let Some(target) = local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let app = format!("pooltest_{}", std::process::id());
    let clients = [
        connect_as(&gw, &app).await,
        connect_as(&gw, &app).await,
        connect_as(&gw, &app).await,
    ];
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..5 {
        for c in &clients {
            pids.insert(backend_pid(c).await);
        }
    }
    // One at a time, three clients need one server connection, not three.
    assert_eq!(pids.len(), 1, "{pids:?}");
    let direct = direct_postgres().await;
    let on_server: i64 = direct
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(on_server, 1);
    // A transaction keeps its connection while others run beside it.
    let [a, b, _] = &clients;
    a.batch_execute("BEGIN").await.unwrap();
    let first = backend_pid(a).await;
    let other = backend_pid(b).await;
    assert_ne!(
        first, other,
        "another client got the connection of an open transaction"
    );
    let again = backend_pid(a).await;
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(first, again);
}

#[tokio::test]
async fn a_clients_set_does_not_reach_other_clients() {
    let Some(mut target) = local_postgres_target().await else {
        return;
    };
    // One server connection: every client runs on the same one.
    target.pool_size = 1;
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let a = connect_as(&gw, "client_a").await;
    let b = connect_as(&gw, "client_b").await;
    assert_eq!(backend_pid(&a).await, backend_pid(&b).await);
    a.batch_execute("SET statement_timeout = '1234ms'; SET search_path TO pg_catalog")
        .await
        .unwrap();
    assert_eq!(show(&b, "statement_timeout").await, "0");
    assert_eq!(show(&b, "application_name").await, "client_b");
    assert_eq!(show(&a, "statement_timeout").await, "1234ms");
    assert_eq!(show(&a, "search_path").await, "pg_catalog");
    assert_eq!(show(&a, "application_name").await, "client_a");
    assert_ne!(show(&b, "search_path").await, "pg_catalog");
    // A failed SET changes nothing; RESET returns to the start-up value.
    a.batch_execute("SET statement_timeout = '5s'; SELECT 1/0")
        .await
        .unwrap_err();
    assert_eq!(show(&a, "statement_timeout").await, "1234ms");
    a.batch_execute("RESET statement_timeout").await.unwrap();
    assert_eq!(show(&a, "statement_timeout").await, "0");
    // SET LOCAL ends with its transaction.
    b.batch_execute("BEGIN; SET LOCAL work_mem = '7MB'; COMMIT")
        .await
        .unwrap();
    assert_ne!(show(&a, "work_mem").await, "7MB");
    assert_ne!(show(&b, "work_mem").await, "7MB");
}

#[tokio::test]
async fn named_prepared_statements_follow_the_client_across_connections() {
    let Some(target) = local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let a = connect_as(&gw, "prepared_a").await;
    let b = connect_as(&gw, "prepared_b").await;
    let statement = a
        .prepare("SELECT $1::int4 + 1, pg_backend_pid()")
        .await
        .unwrap();
    let row = a.query_one(&statement, &[&41i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    // b holds that connection in a transaction: a's statement runs on another one.
    b.batch_execute("BEGIN").await.unwrap();
    let held = backend_pid(&b).await;
    let row = a.query_one(&statement, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
    assert_ne!(
        row.get::<_, i32>(1),
        held,
        "the statement ran on b's connection"
    );
    // b prepares the same text inside its transaction, on the connection that has it.
    let same = b
        .prepare("SELECT $1::int4 + 1, pg_backend_pid()")
        .await
        .unwrap();
    let row = b.query_one(&same, &[&9i32]).await.unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (10, held));
    b.batch_execute("COMMIT").await.unwrap();
    // Closing a's statement does not close b's.
    drop(statement);
    let row = b.query_one(&same, &[&2i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 3);
    // Errors in a pipeline leave the client's statements consistent.
    let err = a
        .prepare("SELECT * FROM no_such_table_here")
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("42P01"));
    let ok = a.prepare("SELECT 'after' AS x").await.unwrap();
    let row = a.query_one(&ok, &[]).await.unwrap();
    assert_eq!(row.get::<_, &str>(0), "after");
}

#[tokio::test]
async fn a_lost_server_connection_is_reported_and_never_pooled_again() {
    let Some(target) = local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let direct = direct_postgres().await;
    let a = connect_as(&gw, "lost_a").await;
    a.batch_execute("BEGIN").await.unwrap();
    let pid = backend_pid(&a).await;
    let killed: bool = direct
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let err = a.simple_query("SELECT 1").await.unwrap_err();
    let code = err.code().map(|s| s.code().to_owned());
    assert!(
        matches!(code.as_deref(), Some("57P01" | "08006")) || err.is_closed(),
        "{err:?}"
    );
    // An idle pooled connection the server dropped is not handed out either.
    let b = connect_as(&gw, "lost_b").await;
    let idle = backend_pid(&b).await;
    let killed: bool = direct
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&idle])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    let fresh = backend_pid(&b).await;
    assert_ne!(fresh, idle);
    assert_ne!(fresh, pid);
}

#[tokio::test]
async fn postgresql_syntax_is_translated_or_refused_on_a_mysql_source() {
    let Some(db) = ExternalDb::start(SourceKind::MySql).await else {
        return;
    };
    let (_gw, c) = mysql_over_the_wire(&db).await;
    c.batch_execute(
        "CREATE TABLE \"People\" (id SERIAL PRIMARY KEY, first VARCHAR(20), last VARCHAR(20), \
         visits int4 NOT NULL DEFAULT 0, doc jsonb)",
    )
    .await
    .unwrap();
    c.batch_execute(
        "INSERT INTO \"People\" (first, last) VALUES ('Ada', 'Lovelace'), (E'O\\'Neil', 'x\\y')",
    )
    .await
    .unwrap();
    // ON CONFLICT in both forms.
    c.execute(
        "INSERT INTO \"People\" (id, first) VALUES (1, 'Dup') ON CONFLICT DO NOTHING",
        &[],
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO \"People\" (id, first, visits) VALUES ($1, 'Ada', 5) \
         ON CONFLICT (id) DO UPDATE SET visits = EXCLUDED.visits",
        &[&1i32],
    )
    .await
    .unwrap();
    let rows = c
        .query(
            "SELECT first || ' ' || last AS name, visits::text AS v, id::int8 AS id \
             FROM \"People\" WHERE first ILIKE $1 ORDER BY id",
            &[&"ADA"],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, &str>("name"), "Ada Lovelace");
    assert_eq!(rows[0].get::<_, &str>("v"), "5");
    assert_eq!(rows[0].get::<_, i64>("id"), 1);
    // E'' escapes and backslashes in standard strings arrive as PostgreSQL reads them.
    let row = c
        .query_one("SELECT first, last FROM \"People\" WHERE id = 2", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "O'Neil");
    assert_eq!(row.get::<_, &str>(1), "x\\y");
    // What has no MySQL form is refused by name.
    for (sql, what) in [
        (
            "SELECT DISTINCT ON (first) first FROM \"People\"",
            "DISTINCT ON",
        ),
        ("SELECT ARRAY[1, 2]", "array syntax"),
        ("SELECT * FROM generate_series(1, 3)", "generate_series"),
        (
            "UPDATE \"People\" SET visits = 1 RETURNING id",
            "UPDATE ... RETURNING",
        ),
        ("SELECT 'People'::regclass", "::regclass"),
    ] {
        let err = c.simple_query(sql).await.unwrap_err();
        let db_err = err.as_db_error().unwrap();
        assert_eq!(db_err.code().code(), "0A000", "{sql}");
        assert_eq!(
            db_err.message(),
            format!("{what} is not supported on a MySQL source")
        );
    }
    db.finish().await;
}

#[tokio::test]
async fn session_level_features_pin_the_session_to_its_connection() {
    let Some(target) = local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let a = connect_as(&gw, "pinned_a").await;
    let b = connect_as(&gw, "pinned_b").await;
    a.batch_execute("CREATE TEMP TABLE pinned_tt (x int)")
        .await
        .unwrap();
    let pinned = backend_pid(&a).await;
    // b cannot get a's connection any more, whatever it runs.
    for _ in 0..3 {
        assert_ne!(backend_pid(&b).await, pinned);
    }
    a.execute("INSERT INTO pinned_tt VALUES (1)", &[])
        .await
        .unwrap();
    let n: i64 = a
        .query_one("SELECT count(*) FROM pinned_tt", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    assert_eq!(backend_pid(&a).await, pinned);
    // A session advisory lock stays with its session too.
    b.query_one("SELECT pg_advisory_lock(424242)", &[])
        .await
        .unwrap();
    let held_by_b = backend_pid(&b).await;
    let direct = direct_postgres().await;
    let holder: i32 = direct
        .query_one(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(holder, held_by_b);
    b.query_one("SELECT pg_advisory_unlock(424242)", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_server_connection_keeps_a_bounded_number_of_prepared_statements() {
    let Some(mut target) = local_postgres_target().await else {
        return;
    };
    target.pool_size = 1;
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let c = connect_as(&gw, "bounded").await;
    let mut statements = Vec::new();
    for n in 0..520i32 {
        statements.push(c.prepare(&format!("SELECT {n}::int4")).await.unwrap());
    }
    // The next hold closes the least recently used ones on the server.
    backend_pid(&c).await;
    let rows = c
        .simple_query("SELECT count(*) FROM pg_prepared_statements")
        .await
        .unwrap();
    let count: i64 = rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(|v| v.parse().unwrap()),
            _ => None,
        })
        .unwrap();
    assert!(
        count <= 500,
        "{count} statements prepared on one connection"
    );
    // An evicted statement is prepared again when used.
    let row = c.query_one(&statements[0], &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 0);
    let row = c.query_one(&statements[519], &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 519);
}
