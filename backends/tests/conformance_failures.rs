//! The conformance suite, failure behaviour: the same assertions on SQLite, PostgreSQL and
//! MariaDB/MySQL for statement timeouts, and (network backends) a server that is down and
//! comes back, pool exhaustion, dropped streams, idle transactions and shutdown. Without a
//! server the test prints `skipped:` and passes, unless `CI=true`.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::network::{network_backend, proxy, select_one};
use common::{Harness, code, count, drain, plan, srun};
use starbase_backends::sqlite::{ExecOptions, SessionConfig};
use starbase_backends::{BackendKind, Error, TxnState};
use starbase_protocol::{ExecMode, Params, SqlState, Value};

on_every_backend!(
    statement_timeout,
    unreachable_server_then_recovers,
    pool_exhaustion_is_53300,
    dropped_stream_frees_the_connection,
    idle_transaction_times_out,
    shutdown_cancels_running_plans,
    server_restart_recovers,
);

async fn statement_timeout(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let sql = match kind {
        BackendKind::Sqlite => {
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        }
        BackendKind::Postgres => "SELECT pg_sleep(10)",
        BackendKind::MySql => "SELECT SLEEP(10)",
    };
    let opts = ExecOptions {
        statement_timeout: Some(Duration::from_millis(300)),
    };
    let started = Instant::now();
    let stream =
        h.db.execute(plan(kind, ExecMode::Single, &[(sql, Params::None)]), opts)
            .await
            .unwrap();
    assert_eq!(code(drain(stream).await), "57014", "{kind:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{kind:?}: took {:?}",
        started.elapsed()
    );
    let out = h.run("SELECT 1").await.unwrap();
    assert_eq!(
        out.rows,
        vec![vec![Value::Int(1)]],
        "{kind:?}: usable afterwards"
    );
    h.finish().await;
}

async fn unreachable_server_then_recovers(kind: BackendKind) {
    if kind == BackendKind::Sqlite {
        return; // embedded: there is no server to lose
    }
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = network_backend(kind, port, 2, Duration::from_secs(2));
    let started = Instant::now();
    let err = select_one(&db, kind).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        SqlState::CONNECTION_FAILURE,
        "{kind:?}: {err}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{kind:?}: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{kind:?}: fails fast"
    );
    // The server "comes back" on that port: the same backend recovers on the next request.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let real = match kind {
        BackendKind::Postgres => 5432,
        _ => 3306,
    };
    let forwarder = tokio::spawn(proxy(listener, real));
    let out = select_one(&db, kind).await.unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(1)]], "{kind:?}");
    db.shutdown().await;
    forwarder.abort();
    h.finish().await;
}

async fn pool_exhaustion_is_53300(kind: BackendKind) {
    if kind == BackendKind::Sqlite {
        return; // embedded: no connection pool to exhaust
    }
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let port = match kind {
        BackendKind::Postgres => 5432,
        _ => 3306,
    };
    let db = network_backend(kind, port, 1, Duration::from_millis(200));
    let mut session = db.session(SessionConfig::default());
    srun(&mut session, kind, "BEGIN").await.unwrap();
    assert_eq!(session.txn_state(), TxnState::InTransaction);
    let started = Instant::now();
    let err = select_one(&db, kind).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        SqlState::TOO_MANY_CONNECTIONS,
        "{kind:?}: {err}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "{kind:?}: {waited:?}"
    );
    srun(&mut session, kind, "ROLLBACK").await.unwrap();
    assert_eq!(session.txn_state(), TxnState::Idle);
    select_one(&db, kind).await.unwrap();
    session.close().await;
    db.shutdown().await;
    h.finish().await;
}

async fn dropped_stream_frees_the_connection(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let sql = match kind {
        BackendKind::Sqlite => {
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT n FROM c"
        }
        BackendKind::Postgres => "SELECT n FROM generate_series(1, 2000000) AS n",
        BackendKind::MySql => {
            "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 999) \
             SELECT a.n FROM d AS a CROSS JOIN d AS b CROSS JOIN d AS c"
        }
    };
    // A pool of one: the next request only runs once the dropped plan gave its connection back.
    let db = match kind {
        BackendKind::Sqlite => h.db.clone(),
        BackendKind::Postgres => network_backend(kind, 5432, 1, Duration::from_secs(5)),
        BackendKind::MySql => network_backend(kind, 3306, 1, Duration::from_secs(5)),
    };
    let mut stream = db
        .execute(
            plan(kind, ExecMode::Single, &[(sql, Params::None)]),
            ExecOptions::default(),
        )
        .await
        .unwrap();
    loop {
        if let starbase_backends::Event::Rows(_) = stream.recv().await.unwrap().unwrap() {
            break;
        }
    }
    drop(stream);
    let started = Instant::now();
    let out = select_one(&db, kind).await.unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(1)]], "{kind:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{kind:?}: {:?}",
        started.elapsed()
    );
    if kind != BackendKind::Sqlite {
        db.shutdown().await;
    }
    h.finish().await;
}

async fn idle_transaction_times_out(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    h.run("CREATE TABLE it (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let config = SessionConfig {
        idle_in_transaction_timeout: Some(Duration::from_millis(200)),
    };
    let mut s = h.db.session(config);
    srun(&mut s, kind, "BEGIN").await.unwrap();
    srun(&mut s, kind, "INSERT INTO it (id) VALUES (1)")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        s.txn_state(),
        TxnState::Idle,
        "{kind:?}: rolled back by the timeout"
    );
    assert_eq!(
        code(srun(&mut s, kind, "SELECT 1").await),
        "25P03",
        "{kind:?}"
    );
    assert_eq!(s.txn_state(), TxnState::Idle, "{kind:?}");
    assert_eq!(
        count(&h, "it").await,
        Value::Int(0),
        "{kind:?}: nothing committed"
    );
    srun(&mut s, kind, "SELECT 1").await.unwrap();
    s.close().await;
    h.finish().await;
}

async fn shutdown_cancels_running_plans(kind: BackendKind) {
    if kind == BackendKind::Sqlite {
        return; // SQLite's shutdown lets the running statement finish, by design
    }
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let sql = match kind {
        BackendKind::Postgres => "SELECT pg_sleep(30)",
        _ => "SELECT SLEEP(30)",
    };
    let port = if kind == BackendKind::Postgres {
        5432
    } else {
        3306
    };
    let db = network_backend(kind, port, 2, Duration::from_secs(2));
    let stream = db
        .execute(
            plan(kind, ExecMode::Single, &[(sql, Params::None)]),
            ExecOptions::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let (result, ()) = tokio::join!(drain(stream), db.shutdown());
    assert_eq!(code(result), "57P01", "{kind:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{kind:?}: {:?}",
        started.elapsed()
    );
    let err = db
        .execute(
            plan(kind, ExecMode::Single, &[("SELECT 1", Params::None)]),
            ExecOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{kind:?}: {err}");
    h.finish().await;
}

async fn server_restart_recovers(kind: BackendKind) {
    if kind == BackendKind::Sqlite {
        return; // embedded: there is no server to restart
    }
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let real = if kind == BackendKind::Postgres {
        5432
    } else {
        3306
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let db = network_backend(kind, port, 2, Duration::from_secs(2));
    let forwarder = tokio::spawn(proxy(listener, real));
    select_one(&db, kind).await.unwrap();
    // The "server" goes away with every connection the pool holds.
    forwarder.abort();
    let _ = forwarder.await;
    let err = select_one(&db, kind).await.unwrap_err();
    assert_eq!(
        err.sqlstate(),
        SqlState::CONNECTION_FAILURE,
        "{kind:?}: {err}"
    );
    // It comes back: the next request works on a fresh connection.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let forwarder = tokio::spawn(proxy(listener, real));
    let out = select_one(&db, kind).await.unwrap();
    assert_eq!(out.rows, vec![vec![Value::Int(1)]], "{kind:?}");
    db.shutdown().await;
    forwarder.abort();
    h.finish().await;
}
