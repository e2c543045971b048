//! Session emulation over pgwire: ParameterStatus, SET/SHOW/RESET, session functions,
//! advisory locks across connections, and the PostgreSQL dialect on SQLite.

use tokio_postgres::SimpleQueryMessage;

use crate::common::TestGateway;

fn values(messages: &[SimpleQueryMessage]) -> Vec<Option<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
            _ => None,
        })
        .collect()
}

async fn one(c: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let out = c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    values(&out).into_iter().next().flatten()
}

#[tokio::test]
async fn settings_and_session_functions() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    assert_eq!(
        one(&c, "SHOW server_version").await.as_deref(),
        Some("16.0")
    );
    assert_eq!(
        one(&c, "SHOW client_encoding").await.as_deref(),
        Some("UTF8")
    );
    assert_eq!(one(&c, "SHOW DateStyle").await.as_deref(), Some("ISO, MDY"));
    c.batch_execute("SET application_name = 'it'; SET extra_float_digits TO 3")
        .await
        .unwrap();
    assert_eq!(
        one(&c, "SHOW application_name").await.as_deref(),
        Some("it")
    );
    assert_eq!(
        one(&c, "SELECT current_setting('extra_float_digits')")
            .await
            .as_deref(),
        Some("3")
    );
    c.batch_execute("RESET extra_float_digits").await.unwrap();
    assert_eq!(
        one(&c, "SHOW extra_float_digits").await.as_deref(),
        Some("1")
    );
    let err = c.simple_query("SHOW no_such_setting").await.unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("42704"));
    c.batch_execute("SET myapp.tenant = 'acme'").await.unwrap();
    assert_eq!(one(&c, "SHOW myapp.tenant").await.as_deref(), Some("acme"));
    // SET LOCAL lasts until the end of the transaction.
    c.batch_execute("BEGIN; SET LOCAL timezone = 'Europe/Paris'")
        .await
        .unwrap();
    assert_eq!(
        one(&c, "SHOW timezone").await.as_deref(),
        Some("Europe/Paris")
    );
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(one(&c, "SHOW timezone").await.as_deref(), Some("UTC"));
    let version = one(&c, "SELECT version()").await.unwrap();
    assert!(version.starts_with("PostgreSQL 16.0"), "{version}");
    assert_eq!(
        one(&c, "SELECT current_database()").await.as_deref(),
        Some("main")
    );
    assert_eq!(
        one(&c, "SELECT current_schema()").await.as_deref(),
        Some("public")
    );
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(pid > 0);
}

#[tokio::test]
async fn advisory_locks_are_shared_between_connections() {
    let gw = TestGateway::start().await;
    let a = gw.pg_client().await;
    let b = gw.pg_client().await;
    let taken: bool = a
        .query_one("SELECT pg_try_advisory_lock($1)", &[&72_707_369i64])
        .await
        .unwrap()
        .get(0);
    assert!(taken);
    assert_eq!(
        one(&b, "SELECT pg_try_advisory_lock(72707369)")
            .await
            .as_deref(),
        Some("f")
    );
    assert_eq!(
        one(&a, "SELECT pg_advisory_unlock(72707369)")
            .await
            .as_deref(),
        Some("t")
    );
    assert_eq!(
        one(&b, "SELECT pg_try_advisory_lock(72707369)")
            .await
            .as_deref(),
        Some("t")
    );
    // A connection that goes away releases its locks.
    drop(b);
    let mut free = false;
    for _ in 0..100 {
        if one(&a, "SELECT pg_try_advisory_lock(72707369)")
            .await
            .as_deref()
            == Some("t")
        {
            free = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(free, "the closed connection's lock was never released");
}

#[tokio::test]
async fn postgres_dialect_runs_on_sqlite() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute(
        "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, \
         price NUMERIC(10,2), seen TIMESTAMPTZ DEFAULT now(), ok BOOLEAN DEFAULT true)",
    )
    .await
    .unwrap();
    let id: i64 = c
        .query_one(
            "INSERT INTO items (name, price) VALUES ($1, 9.5) RETURNING id",
            &[&"Widget"],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(id, 1);
    // ON CONFLICT, ILIKE, ::casts, E'' strings, pg_catalog prefixes, true/false.
    c.batch_execute(
        "INSERT INTO items (name) VALUES ('Widget') ON CONFLICT (name) DO UPDATE SET ok = false",
    )
    .await
    .unwrap();
    let row = c
        .query_one(
            "SELECT name::text, pg_catalog.length(name), ok, E'a\\tb' FROM items WHERE name ILIKE 'widget'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "Widget");
    assert!(!row.get::<_, bool>(2));
    assert_eq!(row.get::<_, &str>(3), "a\tb");
    // SQLite's own dialect keeps working.
    assert_eq!(
        one(&c, "SELECT group_concat(name, '|') FROM items")
            .await
            .as_deref(),
        Some("Widget")
    );
    // What cannot be translated is named.
    let err = c
        .simple_query("SELECT * FROM items, LATERAL (SELECT 1) AS x")
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("0A000"));
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("LATERAL"), "{message}");
    // The catalog follows DDL at once.
    c.batch_execute("CREATE TABLE later (x INTEGER)")
        .await
        .unwrap();
    assert_eq!(
        one(
            &c,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'later'"
        )
        .await
        .as_deref(),
        Some("1")
    );
    let oid: u32 = c
        .query_one("SELECT 'later'::regclass::oid", &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(oid, starbase_protocol::pgtype::relation_oid("later"));
}
