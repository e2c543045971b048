//! Pipelined server connections of the wire proxy: clients' single autocommit statements
//! share one server connection at once, and each client still gets exactly its own
//! answers, errors and cancels, and never runs inside another client's transaction.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::common::external::local_postgres_target;
use crate::common::{ADMIN, TestGateway};
use crate::pgwire_proxy::{connect_as, direct_postgres};

/// A gateway whose source `external` is the local PostgreSQL (pipelining on), or `None`
/// when that server is not running outside CI.
async fn lane_gateway() -> Option<TestGateway> {
    let target = local_postgres_target().await?;
    Some(TestGateway::start_with_proxy(vec![target]).await)
}

/// The text columns of a simple query's first row.
async fn simple_row(c: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let messages = c.simple_query(sql).await.unwrap();
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .unwrap();
    (0..row.len())
        .map(|i| row.get(i).unwrap_or_default().to_owned())
        .collect()
}

/// A statement in the extended protocol with the unnamed statement (`Parse`, `Bind`,
/// `Describe`, `Execute`, `Sync` in one go): its two `int4` columns and the server process.
async fn typed_row(c: &tokio_postgres::Client, a: i32, b: i32) -> (i32, i32, i32) {
    let row = c
        .query_typed(
            "SELECT $1::int4, $2::int4, pg_backend_pid()",
            &[(&a, Type::INT4), (&b, Type::INT4)],
        )
        .await
        .unwrap();
    let row = &row[0];
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn concurrent_statements_share_one_pipelined_connection_and_get_their_own_answers() {
    let Some(gw) = lane_gateway().await else {
        return;
    };
    let app = format!("lanes_{}", std::process::id());
    let mut clients = Vec::new();
    for _ in 0..8 {
        let c = connect_as(&gw, &app).await;
        // One at a time first: the lane is open before they run together.
        assert_eq!(simple_row(&c, "SELECT 1").await, ["1"]);
        clients.push(c);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in clients.into_iter().enumerate() {
        let i = i32::try_from(i).unwrap();
        tasks.spawn(async move {
            let mut pids = BTreeSet::new();
            for j in 0..100 {
                if j % 2 == 0 {
                    let row = simple_row(&c, &format!("SELECT {i}, {j}, pg_backend_pid()")).await;
                    assert_eq!(
                        (row[0].as_str(), row[1].as_str()),
                        (&*i.to_string(), &*j.to_string())
                    );
                    pids.insert(row[2].parse::<i32>().unwrap());
                } else {
                    let (a, b, pid) = typed_row(&c, i, j).await;
                    assert_eq!((a, b), (i, j), "client {i} got another client's answer");
                    pids.insert(pid);
                }
            }
            pids
        });
    }
    let mut pids = BTreeSet::new();
    while let Some(seen) = tasks.join_next().await {
        pids.extend(seen.unwrap());
    }
    // Eight clients at once ran on one server connection: the pipelined one.
    assert_eq!(pids.len(), 1, "{pids:?}");
    let direct = direct_postgres().await;
    let pid = *pids.first().unwrap();
    let app_on_server: String = direct
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(app_on_server, app, "the lane has its clients' settings");
}

#[tokio::test]
async fn a_pipelined_statement_never_runs_inside_another_clients_transaction() {
    let Some(gw) = lane_gateway().await else {
        return;
    };
    let app = format!("lanes_tx_{}", std::process::id());
    let table = format!("lanes_tx_{}", std::process::id());
    let a = connect_as(&gw, &app).await;
    let b = connect_as(&gw, &app).await;
    a.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY)"
    ))
    .await
    .unwrap();
    let count = format!("SELECT count(*), pg_backend_pid() FROM {table}");
    let lane_pid = simple_row(&b, &count).await[1].clone();
    a.batch_execute(&format!("BEGIN; INSERT INTO {table} VALUES (1)"))
        .await
        .unwrap();
    let in_tx = simple_row(&a, "SELECT pg_backend_pid()").await[0].clone();
    assert_ne!(
        in_tx, lane_pid,
        "a transaction went onto the shared connection"
    );
    // While a's transaction is open, b's statements (simple and extended) see none of it.
    for _ in 0..20 {
        assert_eq!(simple_row(&b, &count).await[0], "0");
        let rows = b
            .query_typed(&format!("SELECT count(*)::int4 FROM {table}"), &[])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<_, i32>(0), 0);
    }
    // a's statements inside its transaction stay on its connection, even safe ones.
    assert_eq!(simple_row(&a, &count).await, ["1", in_tx.as_str()]);
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(simple_row(&b, &count).await[0], "1");
    // A statement that changes the session is never pipelined: b's SET stays b's.
    b.batch_execute("SET statement_timeout = '4321ms'")
        .await
        .unwrap();
    assert_eq!(simple_row(&b, "SHOW statement_timeout").await, ["4321ms"]);
    assert_eq!(simple_row(&a, "SHOW statement_timeout").await, ["0"]);
    a.batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_error_in_a_pipelined_statement_reaches_only_its_client() {
    let Some(gw) = lane_gateway().await else {
        return;
    };
    let app = format!("lanes_err_{}", std::process::id());
    let failing = connect_as(&gw, &app).await;
    let others: Vec<_> = futures::future::join_all((0..4).map(|_| connect_as(&gw, &app))).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in others.into_iter().enumerate() {
        let i = i32::try_from(i).unwrap();
        tasks.spawn(async move {
            for j in 0..50 {
                assert_eq!(typed_row(&c, i, j).await.0, i);
            }
        });
    }
    for _ in 0..10 {
        let err = failing.simple_query("SELECT 1/0").await.unwrap_err();
        assert_eq!(err.code().map(|s| s.code()), Some("22012"));
        let err = failing
            .query_typed("SELECT $1::int4 / 0", &[(&1i32, Type::INT4)])
            .await
            .unwrap_err();
        assert_eq!(err.code().map(|s| s.code()), Some("22012"));
        // A failed Parse too: the server's position and message come through.
        let err = failing
            .query_typed("SELECT nope FROM no_such_lane_table", &[])
            .await
            .unwrap_err();
        assert_eq!(err.code().map(|s| s.code()), Some("42P01"));
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // The failing client's session is idle and sound afterwards.
    failing.batch_execute("BEGIN; COMMIT").await.unwrap();
    assert_eq!(typed_row(&failing, 7, 8).await.0, 7);
}

#[tokio::test]
async fn a_cancel_reaches_only_its_own_pipelined_statement() {
    let Some(gw) = lane_gateway().await else {
        return;
    };
    let app = format!("lanes_cancel_{}", std::process::id());
    let a = connect_as(&gw, &app).await;
    let b = connect_as(&gw, &app).await;
    // Both on the lane first.
    let lane = simple_row(&a, "SELECT pg_backend_pid()").await[0].clone();
    assert_eq!(simple_row(&b, "SELECT pg_backend_pid()").await[0], lane);
    let first = tokio::spawn(async move {
        let row = simple_row(&a, "SELECT pg_sleep(1.5), pg_backend_pid(), 'a'").await;
        (row, a)
    });
    // Once a's statement runs, b's is queued behind it on the same connection.
    let direct = direct_postgres().await;
    let pid: i32 = lane.parse().unwrap();
    loop {
        let running: i64 = direct
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep(1.5)%' AND state = 'active'",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if running == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let token = b.cancel_token();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let err = b.simple_query("SELECT pg_sleep(30)").await.unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("57014"));
    cancel.await.unwrap();
    // a's statement, running when b's cancel arrived, was not the one cancelled.
    let (row, a) = first.await.unwrap();
    assert_eq!(row[1..], [lane.as_str(), "a"]);
    assert_eq!(simple_row(&a, "SELECT 2").await, ["2"]);
    assert_eq!(simple_row(&b, "SELECT 3").await, ["3"]);
}

/// The server process `b` runs on while `a`'s statement is still running.
async fn pid_beside_a_running_statement(pipeline: bool) -> (String, String) {
    let mut target = local_postgres_target().await.unwrap();
    target.pipeline = pipeline;
    let gw = TestGateway::start_with_proxy(vec![target]).await;
    let app = format!("lanes_off_{}_{pipeline}", std::process::id());
    let a = connect_as(&gw, &app).await;
    let b = connect_as(&gw, &app).await;
    simple_row(&a, "SELECT 1").await;
    let running = tokio::spawn(async move {
        simple_row(&a, "SELECT pg_backend_pid(), pg_sleep(0.5)").await[0].clone()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let beside = simple_row(&b, "SELECT pg_backend_pid()").await[0].clone();
    (running.await.unwrap(), beside)
}

#[tokio::test]
async fn pipelining_can_be_turned_off_per_source() {
    if local_postgres_target().await.is_none() {
        return;
    }
    // On: b's statement waits behind a's on the same connection.
    let (a, b) = pid_beside_a_running_statement(true).await;
    assert_eq!(a, b);
    // Off: b takes a pooled connection of its own.
    let (a, b) = pid_beside_a_running_statement(false).await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_client_that_leaves_in_the_middle_of_its_answer_does_not_hold_up_the_lane() {
    use crate::pgwire_raw::{Raw, cstr, frame};
    let Some(gw) = lane_gateway().await else {
        return;
    };
    let mut a = Raw::login_to(&gw, ADMIN, "external").await;
    let mut b = Raw::login_to(&gw, ADMIN, "external").await;
    for raw in [&mut a, &mut b] {
        raw.send(&frame(b'Q', &cstr("SELECT 1"))).await;
        assert_eq!(raw.until(b'Z').await, (None, true));
    }
    // a asks for far more than the relay and the sockets buffer and never reads it; b's
    // statement goes onto the lane behind a's.
    let big = "SELECT repeat('x', 1000) FROM generate_series(1, 20000)";
    a.send(&frame(b'Q', &cstr(big))).await;
    b.send(&frame(b'Q', &cstr("SELECT 'b'"))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(a);
    // b's answer comes once a is gone (within the raw client's 10 s read timeout).
    assert_eq!(b.until(b'Z').await, (None, true));
    b.send(&frame(b'Q', &cstr("SELECT 2"))).await;
    assert_eq!(b.until(b'Z').await, (None, true));
}
