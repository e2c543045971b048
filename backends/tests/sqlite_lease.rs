//! Writer leases: one transaction on the writer spanning several plans, released by commit,
//! drop, idle timeout or shutdown.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use starbase_backends::sqlite::{ExecOptions, SqliteBackend, SqliteConfig};
use starbase_backends::{Error, Event, ResultStream};
use starbase_protocol::{Dialect, ExecMode, Params, Plan, Statement, Value};
use tempfile::TempDir;

const LONG: Duration = Duration::from_secs(60);

fn open() -> (TempDir, SqliteBackend) {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteBackend::open(SqliteConfig::new(dir.path().join("db.sqlite"))).unwrap();
    (dir, db)
}

fn single(sql: &str) -> Plan {
    Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(sql, Dialect::Sqlite, Params::None)],
    }
}

async fn drain(mut rx: ResultStream) -> Result<Vec<Vec<Value>>, Error> {
    let mut rows = Vec::new();
    while let Some(item) = rx.recv().await {
        match item? {
            Event::Rows(batch) => rows.extend(batch),
            Event::Finished => return Ok(rows),
            _ => {}
        }
    }
    panic!("stream ended without Finished");
}

async fn run(db: &SqliteBackend, sql: &str) -> Result<Vec<Vec<Value>>, Error> {
    drain(db.execute(single(sql), ExecOptions::default()).await?).await
}

async fn count(db: &SqliteBackend) -> Vec<Vec<Value>> {
    run(db, "SELECT count(*) FROM t").await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_spans_plans_and_other_writes_wait_for_its_commit() {
    let (_dir, db) = open();
    run(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
        .await
        .unwrap();
    let mut lease = db.lease_writer(LONG).await.unwrap();
    drain(
        lease
            .execute(
                single("INSERT INTO t (who) VALUES ('lease-1')"),
                &ExecOptions::default(),
            )
            .unwrap(),
    )
    .await
    .unwrap();
    // A write from elsewhere queues behind the lease.
    let other = {
        let db = db.clone();
        tokio::spawn(async move { run(&db, "INSERT INTO t (who) VALUES ('other')").await })
    };
    // Readers do not see uncommitted rows.
    assert_eq!(count(&db).await, vec![vec![Value::Int(0)]]);
    let seen = drain(
        lease
            .execute(single("SELECT count(*) FROM t"), &ExecOptions::default())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        seen,
        vec![vec![Value::Int(1)]],
        "the lease sees its own rows"
    );
    drain(
        lease
            .execute(
                single("INSERT INTO t (who) VALUES ('lease-2')"),
                &ExecOptions::default(),
            )
            .unwrap(),
    )
    .await
    .unwrap();
    lease.commit().await.unwrap();
    other.await.unwrap().unwrap();
    let order = run(&db, "SELECT who FROM t ORDER BY id").await.unwrap();
    let order: Vec<Value> = order.into_iter().flatten().collect();
    assert_eq!(
        order,
        ["lease-1", "lease-2", "other"]
            .map(|s| Value::Text(s.into()))
            .to_vec()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_lease_rolls_back_and_frees_the_writer() {
    let (_dir, db) = open();
    run(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let mut lease = db.lease_writer(LONG).await.unwrap();
    drain(
        lease
            .execute(single("INSERT INTO t VALUES (1)"), &ExecOptions::default())
            .unwrap(),
    )
    .await
    .unwrap();
    // An error inside the lease leaves the transaction open for the holder to decide.
    let err = drain(
        lease
            .execute(single("INSERT INTO t VALUES (1)"), &ExecOptions::default())
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.sqlstate().as_str(), "23505");
    let err = drain(
        lease
            .execute(single("COMMIT"), &ExecOptions::default())
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.sqlstate().as_str(), "25001");
    drop(lease);
    run(&db, "INSERT INTO t VALUES (2)").await.unwrap();
    assert_eq!(
        run(&db, "SELECT id FROM t").await.unwrap(),
        vec![vec![Value::Int(2)]]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_lease_is_rolled_back() {
    let (_dir, db) = open();
    run(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let mut lease = db.lease_writer(Duration::from_millis(200)).await.unwrap();
    drain(
        lease
            .execute(single("INSERT INTO t VALUES (1)"), &ExecOptions::default())
            .unwrap(),
    )
    .await
    .unwrap();
    // A write from elsewhere gets through once the idle lease is given up.
    run(&db, "INSERT INTO t VALUES (2)").await.unwrap();
    assert_eq!(
        run(&db, "SELECT id FROM t").await.unwrap(),
        vec![vec![Value::Int(2)]]
    );
    let err = match lease.execute(single("INSERT INTO t VALUES (3)"), &ExecOptions::default()) {
        Err(e) => e,
        Ok(rx) => drain(rx).await.unwrap_err(),
    };
    assert_eq!(err.sqlstate().as_str(), "25P03");
    assert_eq!(
        lease.commit().await.unwrap_err().sqlstate().as_str(),
        "25P03"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_releases_a_held_lease() {
    let (_dir, db) = open();
    run(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let lease = db.lease_writer(LONG).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), db.shutdown())
        .await
        .unwrap();
    assert!(lease.commit().await.is_err());
}
