//! Short reads answered on the caller's thread: which plans take that path, and that the
//! ones that start there and give up (too long, too many rows, writes, busy) still give
//! complete, correct results on the SQLite threads.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use starbase_backends::Error;
use starbase_backends::sqlite::{ExecOptions, SqliteBackend, SqliteConfig};
use starbase_protocol::{Dialect, ExecMode, Params, Plan, Statement, Value};
use tempfile::TempDir;

fn open(readers: usize) -> (TempDir, SqliteBackend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SqliteConfig::new(dir.path().join("db.sqlite"));
    config.readers = readers;
    (dir, SqliteBackend::open(config).unwrap())
}

fn single(sql: &str, params: Params) -> Plan {
    Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(sql, Dialect::Sqlite, params)],
    }
}

async fn run(db: &SqliteBackend, sql: &str, params: Params) -> Result<Vec<Vec<Value>>, Error> {
    common::drain(
        db.execute(single(sql, params), ExecOptions::default())
            .await?,
    )
    .await
    .map(|out| out.rows)
}

async fn seed(db: &SqliteBackend, rows: i64) {
    run(
        db,
        &format!(
            "CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows})
             INSERT INTO kv SELECT i, 'n' || i FROM c;"
        ),
        Params::None,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_point_select_is_answered_inline_and_sees_the_latest_commit() {
    let (_dir, db) = open(2);
    seed(&db, 10).await;
    let before = db.inline_reads();
    for i in 11..=30i64 {
        run(
            &db,
            "INSERT INTO kv VALUES ($1, 'x')",
            Params::Positional(vec![Value::Int(i)]),
        )
        .await
        .unwrap();
        // Each read comes right after a commit it must see.
        let rows = run(
            &db,
            "SELECT id FROM kv WHERE id = $1",
            Params::Positional(vec![Value::Int(i)]),
        )
        .await
        .unwrap();
        assert_eq!(rows, vec![vec![Value::Int(i)]]);
    }
    assert_eq!(
        db.inline_reads() - before,
        20,
        "every point select ran inline"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_one_batch_goes_to_the_readers_complete() {
    let (_dir, db) = open(2);
    seed(&db, 5000).await;
    let before = db.inline_reads();
    let rows = run(&db, "SELECT id FROM kv ORDER BY id", Params::None)
        .await
        .unwrap();
    assert_eq!(rows.len(), 5000);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| r[0] == Value::Int(i64::try_from(i).unwrap() + 1))
    );
    assert_eq!(db.inline_reads(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_computation_gives_up_inline_and_finishes_on_a_reader() {
    let (_dir, db) = open(2);
    let before = db.inline_reads();
    let rows = run(
        &db,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)
         SELECT count(*), sum(x) FROM c",
        Params::None,
    )
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![vec![Value::Int(1_000_000), Value::Int(500_000_500_000)]]
    );
    assert_eq!(db.inline_reads(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_of_a_short_read_are_reported_as_on_a_reader() {
    let (_dir, db) = open(2);
    let before = db.inline_reads();
    match run(&db, "SELECT * FROM missing", Params::None).await {
        Err(Error::Db(e)) => assert_eq!(e.code.as_str(), "42P01"),
        other => panic!("expected 42P01, got {other:?}"),
    }
    assert_eq!(db.inline_reads() - before, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_disguised_as_reads_and_multi_statement_texts_are_not_inline() {
    let (_dir, db) = open(2);
    seed(&db, 3).await;
    let before = db.inline_reads();
    // Text says read (a CTE), SQLite says write: the writer runs it.
    run(
        &db,
        "WITH x AS (SELECT 1) DELETE FROM kv WHERE id = 1",
        Params::None,
    )
    .await
    .unwrap();
    let rows = run(&db, "SELECT count(*) FROM kv; SELECT 1", Params::None)
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Int(2)], vec![Value::Int(1)]]);
    assert_eq!(db.inline_reads(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_readers_nothing_runs_inline() {
    let (_dir, db) = open(0);
    seed(&db, 3).await;
    let rows = run(&db, "SELECT count(*) FROM kv", Params::None)
        .await
        .unwrap();
    assert_eq!(rows, vec![vec![Value::Int(3)]]);
    assert_eq!(db.inline_reads(), 0);
}

/// A caller-thread connection keeps its read snapshot between reads only while it is in use:
/// soon after the last read, another connection's checkpoint can reset the whole WAL.
#[tokio::test(flavor = "multi_thread")]
async fn idle_inline_snapshots_do_not_hold_back_checkpoints() {
    let (dir, db) = open(2);
    seed(&db, 10).await;
    let before = db.inline_reads();
    for i in 1..=5i64 {
        let rows = run(
            &db,
            "SELECT id FROM kv WHERE id = $1",
            Params::Positional(vec![Value::Int(i)]),
        )
        .await
        .unwrap();
        assert_eq!(rows, vec![vec![Value::Int(i)]]);
    }
    assert!(db.inline_reads() > before, "the reads ran inline");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let outside = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    let busy: i64 = outside
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0, "an idle connection held back the checkpoint");
}
