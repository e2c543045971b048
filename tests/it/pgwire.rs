//! The PostgreSQL wire protocol with tokio-postgres: authentication, both query protocols,
//! types, transactions, errors and cancellation.

use crate::common::{ADMIN, CLIENT, TestGateway};

#[tokio::test]
async fn scram_with_either_token_and_wrong_password_is_28p01() {
    let gw = TestGateway::start().await;
    let admin = gw.pg_client_as(ADMIN).await;
    let rows = admin.simple_query("SELECT 1 AS one").await.unwrap();
    assert!(
        matches!(&rows[1], tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("1"))
    );
    let client = gw.pg_client_as(CLIENT).await;
    client.simple_query("SELECT 1").await.unwrap();
    let err = tokio_postgres::connect(&gw.pg_config("wrong"), tokio_postgres::NoTls)
        .await
        .err()
        .expect("wrong password must fail");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD),
        "{err}"
    );
}

fn simple_rows(messages: &[tokio_postgres::SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

fn completions(messages: &[tokio_postgres::SimpleQueryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn simple_query_runs_statements_in_order_and_stops_at_the_first_error() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    let out = c
        .simple_query(
            "CREATE TABLE s (a INTEGER, b TEXT); INSERT INTO s VALUES (1, 'x'), (2, NULL); \
             SELECT a, b FROM s ORDER BY a; UPDATE s SET b = 'y'",
        )
        .await
        .unwrap();
    assert_eq!(completions(&out), vec![0, 2, 2, 2]);
    assert_eq!(
        simple_rows(&out),
        vec![
            vec![Some("1".into()), Some("x".into())],
            vec![Some("2".into()), None]
        ]
    );
    // An error stops the rest of the text; its implicit transaction rolls back.
    let err = c
        .simple_query(
            "INSERT INTO s VALUES (3, 'z'); SELECT * FROM missing; INSERT INTO s VALUES (4, 'w')",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
    );
    let out = c.simple_query("SELECT count(*) FROM s").await.unwrap();
    assert_eq!(simple_rows(&out), vec![vec![Some("2".into())]]);
    // Empty queries are answered, not errors.
    assert!(simple_rows(&c.simple_query("").await.unwrap()).is_empty());
    assert!(c.simple_query(" ; ").await.is_ok());
}

#[tokio::test]
async fn transactions_report_state_and_refuse_statements_after_an_error() {
    let gw = TestGateway::start().await;
    let mut c = gw.pg_client().await;
    c.batch_execute("CREATE TABLE k (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    c.batch_execute("BEGIN; INSERT INTO k VALUES (1)")
        .await
        .unwrap();
    let err = c
        .batch_execute("INSERT INTO k VALUES (1)")
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    let err = c.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION)
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    let out = c.simple_query("SELECT count(*) FROM k").await.unwrap();
    assert_eq!(simple_rows(&out), vec![vec![Some("0".into())]]);
    // The driver's own transaction API (extended protocol) commits atomically.
    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO k VALUES (5)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    let out = c.simple_query("SELECT id FROM k").await.unwrap();
    assert_eq!(simple_rows(&out), vec![vec![Some("5".into())]]);
}

#[tokio::test]
async fn typed_parameters_binary_results_and_suspended_portals() {
    use tokio_postgres::types::Type;
    let gw = TestGateway::start().await;
    let mut c = gw.pg_client().await;
    c.batch_execute("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
        .await
        .unwrap();
    let insert = c
        .prepare_typed(
            "INSERT INTO p (id, v) VALUES ($1, $2)",
            &[Type::INT8, Type::TEXT],
        )
        .await
        .unwrap();
    for i in 1..=5i64 {
        c.execute(&insert, &[&i, &format!("v{i}")]).await.unwrap();
    }
    let tx = c.transaction().await.unwrap();
    let select = tx.prepare("SELECT id, v FROM p ORDER BY id").await.unwrap();
    assert_eq!(select.columns()[0].type_(), &Type::INT8);
    assert_eq!(select.columns()[1].type_(), &Type::TEXT);
    let portal = tx.bind(&select, &[]).await.unwrap();
    let first = tx.query_portal(&portal, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].get::<_, i64>(0), 1);
    // Another statement while the portal is suspended.
    let other = tx
        .query_one("SELECT v FROM p WHERE id = 4", &[])
        .await
        .unwrap();
    assert_eq!(other.get::<_, &str>(0), "v4");
    let rest = tx.query_portal(&portal, 10).await.unwrap();
    assert_eq!(
        rest.iter()
            .map(|r| r.get::<_, &str>(1).to_owned())
            .collect::<Vec<_>>(),
        vec!["v3", "v4", "v5"]
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn cancel_request_interrupts_the_running_statement() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let err = c
        .simple_query(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    canceller.await.unwrap();
    // The connection is healthy afterwards.
    let out = c.simple_query("SELECT 2").await.unwrap();
    assert_eq!(simple_rows(&out), vec![vec![Some("2".into())]]);
}

#[tokio::test]
async fn idle_in_transaction_timeout_releases_the_writer() {
    let gw = TestGateway::start_with(|c| {
        c.idle_in_transaction_timeout = Some(std::time::Duration::from_millis(300));
    })
    .await;
    let a = gw.pg_client().await;
    let b = gw.pg_client().await;
    a.batch_execute("CREATE TABLE w (v INTEGER)").await.unwrap();
    a.batch_execute("BEGIN; INSERT INTO w VALUES (1)")
        .await
        .unwrap();
    // Another session's write waits for the writer, which the idle transaction holds until
    // the timeout rolls it back.
    b.batch_execute("INSERT INTO w VALUES (2)").await.unwrap();
    let err = a
        .batch_execute("INSERT INTO w VALUES (3)")
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("25P03"), "{err}");
    let out = a.simple_query("SELECT v FROM w").await.unwrap();
    assert_eq!(simple_rows(&out), vec![vec![Some("2".into())]]);
}
#[tokio::test]
async fn extended_protocol_round_trips_types() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, small SMALLINT, \
         ok BOOLEAN, data BLOB, amount NUMERIC(10,2))",
    )
    .await
    .unwrap();
    let n = c
        .execute(
            "INSERT INTO t (name, score, small, ok, data, amount) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&"héllo", &1.5f64, &7i16, &true, &vec![0u8, 255], &"12.50"],
        )
        .await;
    // numeric params need a numeric Rust type; text into numeric is refused client-side.
    assert!(n.is_err());
    let n = c
        .execute(
            "INSERT INTO t (name, score, small, ok, data) VALUES ($1, $2, $3, $4, $5)",
            &[&"héllo", &1.5f64, &7i16, &true, &vec![0u8, 255]],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let row = c
        .query_one(
            "SELECT id, name, score, small, ok, data FROM t WHERE id = $1",
            &[&1i64],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, &str>(1), "héllo");
    assert_eq!(row.get::<_, f64>(2), 1.5);
    assert_eq!(row.get::<_, i16>(3), 7);
    assert!(row.get::<_, bool>(4));
    assert_eq!(row.get::<_, Vec<u8>>(5), vec![0u8, 255]);
    let count: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}
