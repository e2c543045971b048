//! Behaviour of the embedded SQLite backend through its public API: routing, parameters,
//! modes and transactions, streaming, cancellation and timeouts.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use starbase_backends::result::BATCH_ROWS;
use starbase_backends::sqlite::{ExecOptions, SqliteBackend, SqliteConfig};
use starbase_backends::{Error, Event, ExecSummary, ResultStream};
use starbase_protocol::{Dialect, ExecMode, Params, Plan, Statement, StmtKind, Value};
use tempfile::TempDir;

/// Generous bound for tests that would otherwise hang when cancellation is broken.
const HANG_GUARD: Duration = Duration::from_secs(30);
const INFINITE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)";

fn open_with(readers: usize) -> (TempDir, SqliteBackend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SqliteConfig::new(dir.path().join("db.sqlite"));
    config.readers = readers;
    (dir, SqliteBackend::open(config).unwrap())
}

fn open() -> (TempDir, SqliteBackend) {
    open_with(2)
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "call sites read better with json!(..)"
)]
fn stmt(sql: &str, params: serde_json::Value) -> Statement {
    Statement::new(
        sql,
        Dialect::Sqlite,
        Params::from_json(Some(&params)).unwrap(),
    )
}

fn plan(mode: ExecMode, steps: Vec<Statement>) -> Plan {
    Plan { mode, steps }
}

fn single(sql: &str, params: serde_json::Value) -> Plan {
    plan(ExecMode::Single, vec![stmt(sql, params)])
}

fn txn(sqls: &[&str]) -> Plan {
    let steps = sqls.iter().map(|s| stmt(s, json!(null))).collect();
    plan(ExecMode::Transaction, steps)
}

/// Reads a stream to its end: the events before `Finished`, or the error that ended it.
async fn collect(mut rx: ResultStream) -> Result<Vec<Event>, Error> {
    let mut events = Vec::new();
    while let Some(item) = rx.recv().await {
        match item? {
            Event::Finished => {
                assert!(rx.recv().await.is_none(), "events after Finished");
                return Ok(events);
            }
            event => events.push(event),
        }
    }
    panic!("stream ended without Finished or an error: {events:?}");
}

async fn run(db: &SqliteBackend, plan: Plan) -> Result<Vec<Event>, Error> {
    collect(db.execute(plan, ExecOptions::default()).await.unwrap()).await
}

async fn ok(db: &SqliteBackend, sql: &str) -> Vec<Event> {
    run(db, single(sql, json!(null))).await.unwrap()
}

async fn err(db: &SqliteBackend, plan: Plan) -> starbase_protocol::DbError {
    match run(db, plan).await {
        Err(Error::Db(e)) => e,
        other => panic!("expected a database error, got {other:?}"),
    }
}

fn rows(events: &[Event]) -> Vec<Vec<Value>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Rows(batch) => Some(batch.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn summaries(events: &[Event]) -> Vec<ExecSummary> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Done(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn column_names(events: &[Event]) -> Vec<Vec<String>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Columns(cols) => Some(cols.iter().map(|c| c.name.clone()).collect()),
            _ => None,
        })
        .collect()
}

fn ints(values: &[i64]) -> Vec<Value> {
    values.iter().map(|i| Value::Int(*i)).collect()
}

async fn count(db: &SqliteBackend, table: &str) -> i64 {
    let events = ok(db, &format!("SELECT count(*) FROM {table}")).await;
    match rows(&events).as_slice() {
        [row] => match row.as_slice() {
            [Value::Int(n)] => *n,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dollar_numbers_bind_by_number_and_can_repeat() {
    let (_dir, db) = open();
    let events = run(&db, single("SELECT $2, $1", json!([1, 2])))
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[2, 1])]);
    let events = run(&db, single("SELECT $1, $1 + 1, $1", json!([5])))
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[5, 6, 5])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_placeholder_style_with_array_and_object() {
    let (_dir, db) = open();
    let events = run(&db, single("SELECT ?, ?, ?3", json!([10, 20, 30])))
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[10, 20, 30])]);
    let object = json!({"a": 1, "b": 2, "c": 3});
    let events = run(&db, single("SELECT :a, @b, $c, :a", object))
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[1, 2, 3, 1])]);
    let events = run(&db, single("SELECT :a, @b, $c", json!([4, 5, 6])))
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[4, 5, 6])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_parameter_count_is_22023_and_writes_nothing() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE t (x)").await;
    let cases = [
        ("INSERT INTO t VALUES (?1)", json!([1, 2])),
        ("INSERT INTO t VALUES (?1)", json!([])),
        (
            "INSERT INTO t VALUES (?1); INSERT INTO t VALUES (?2)",
            json!([1, 2, 3]),
        ),
        ("INSERT INTO t VALUES (:a)", json!({"a": 1, "b": 2})),
        // The second statement cannot be prepared before the first has run: the count is
        // checked at the end, inside the implicit transaction, which rolls back.
        (
            "CREATE TABLE n (x); INSERT INTO n VALUES (?1)",
            json!([1, 2]),
        ),
    ];
    for (sql, params) in cases {
        let e = err(&db, single(sql, params.clone())).await;
        assert_eq!(e.code.as_str(), "22023", "{sql} {params}: {e:?}");
    }
    assert_eq!(count(&db, "t").await, 0);
    let e = err(&db, single("SELECT * FROM n", json!(null))).await;
    assert_eq!(
        e.code.as_str(),
        "42P01",
        "table n must have been rolled back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_is_atomic_and_names_the_failing_step() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY)").await;
    let e = err(
        &db,
        txn(&[
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (1)",
            "SELECT 1",
        ]),
    )
    .await;
    assert_eq!(e.code.as_str(), "23505");
    assert_eq!(e.detail.as_deref(), Some("statement 2 of 3"));
    assert_eq!(
        count(&db, "t").await,
        0,
        "the first insert must be rolled back"
    );

    let events = run(&db, txn(&["INSERT INTO t VALUES (1)", "SELECT id FROM t"]))
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[1])]);
    assert_eq!(count(&db, "t").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_control_inside_a_transaction_request_is_25001() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE t (x)").await;
    for steps in [
        ["INSERT INTO t VALUES (1)", "COMMIT"],
        ["INSERT INTO t VALUES (1)", "SELECT 1; BEGIN"],
    ] {
        let e = err(&db, txn(&steps)).await;
        assert_eq!(e.code.as_str(), "25001", "{steps:?}");
        assert_eq!(e.detail.as_deref(), Some("statement 2 of 2"));
    }
    assert_eq!(count(&db, "t").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_statement_text_runs_everything_all_or_nothing() {
    let (_dir, db) = open();
    let events = ok(
        &db,
        "CREATE TABLE m (x UNIQUE); INSERT INTO m VALUES (1); INSERT INTO m VALUES (2); \
         SELECT x FROM m ORDER BY x;",
    )
    .await;
    assert_eq!(summaries(&events).len(), 4);
    assert_eq!(rows(&events), vec![ints(&[1]), ints(&[2])]);

    let e = err(
        &db,
        single(
            "CREATE TABLE z (x); INSERT INTO m VALUES (3); INSERT INTO m VALUES (1)",
            json!(null),
        ),
    )
    .await;
    assert_eq!(e.code.as_str(), "23505");
    assert_eq!(count(&db, "m").await, 2, "insert of 3 must be rolled back");
    let e = err(&db, single("SELECT * FROM z", json!(null))).await;
    assert_eq!(
        e.code.as_str(),
        "42P01",
        "CREATE TABLE z must be rolled back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_text_is_42601() {
    let (_dir, db) = open();
    for sql in ["", ";;", "  -- nothing\n", "/* x */ ;"] {
        let e = err(&db, single(sql, json!(null))).await;
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("42601", "empty query"),
            "{sql:?}"
        );
    }
    // Empty statements between real ones are skipped.
    let events = ok(&db, ";SELECT 1;;SELECT 2;").await;
    assert_eq!(rows(&events), vec![ints(&[1]), ints(&[2])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn begin_alone_is_rolled_back_and_the_writer_stays_usable() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE t (x)").await;
    let e = err(&db, single("BEGIN", json!(null))).await;
    assert_eq!(e.code.as_str(), "25001");
    assert_eq!(
        e.message,
        "transaction was left open; its statements were rolled back"
    );
    let e = err(&db, single("BEGIN; INSERT INTO t VALUES (1)", json!(null))).await;
    assert_eq!(e.code.as_str(), "25001");
    // The writer is not stuck in a transaction: a following write commits.
    let events = ok(&db, "INSERT INTO t VALUES (2)").await;
    assert_eq!(summaries(&events)[0].rows_written, 1);
    let events = ok(&db, "SELECT x FROM t").await;
    assert_eq!(rows(&events), vec![ints(&[2])]);
    // A complete transaction in one text is fine.
    ok(&db, "BEGIN; INSERT INTO t VALUES (3); COMMIT;").await;
    assert_eq!(count(&db, "t").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_see_committed_writes() {
    let (_dir, db) = open_with(3);
    ok(&db, "CREATE TABLE t (x)").await;
    for i in 1..=5 {
        ok(&db, &format!("INSERT INTO t VALUES ({i})")).await;
        // Every reader must see every committed write.
        for _ in 0..3 {
            assert_eq!(count(&db, "t").await, i);
        }
    }
    // A read-only transaction runs on a reader, inside one snapshot.
    let events = run(
        &db,
        txn(&["SELECT count(*) FROM t", "SELECT max(x) FROM t"]),
    )
    .await
    .unwrap();
    assert_eq!(rows(&events), vec![ints(&[5]), ints(&[5])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn misclassified_write_on_a_reader_runs_on_the_writer() {
    let (_dir, db) = open_with(1);
    ok(&db, "CREATE TABLE t (x)").await;
    for sql in [
        "INSERT INTO t VALUES (7)",
        "SELECT 1; INSERT INTO t VALUES (8)",
        "CREATE TABLE u (y)",
    ] {
        let mut step = stmt(sql, json!(null));
        step.kind = StmtKind::Read;
        let plan = plan(ExecMode::Single, vec![step]);
        assert!(plan.is_read_only());
        run(&db, plan).await.unwrap();
    }
    let events = ok(&db, "SELECT x FROM t ORDER BY x").await;
    assert_eq!(rows(&events), vec![ints(&[7]), ints(&[8])]);
    assert_eq!(count(&db, "u").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn returns_rows_is_decided_by_the_prepared_statement() {
    let (_dir, db) = open();
    let events = ok(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)").await;
    assert_eq!(column_names(&events), vec![Vec::<String>::new()]);
    let events = ok(&db, "INSERT INTO t (name) VALUES ('a')").await;
    assert_eq!(column_names(&events), vec![Vec::<String>::new()]);
    assert!(rows(&events).is_empty());

    let cases: &[(&str, &[&str], usize)] = &[
        (
            "INSERT INTO t (name) VALUES ('b') RETURNING id, name",
            &["id", "name"],
            1,
        ),
        (
            "PRAGMA table_info(t)",
            &["cid", "name", "type", "notnull", "dflt_value", "pk"],
            2,
        ),
        ("WITH x AS (SELECT 1 AS one) SELECT one FROM x", &["one"], 1),
        ("VALUES (1, 2), (3, 4)", &["column1", "column2"], 2),
        ("SELECT * FROM t WHERE 0", &["id", "name"], 0),
    ];
    for (sql, names, n) in cases {
        let events = ok(&db, sql).await;
        assert_eq!(column_names(&events), vec![names.to_vec()], "{sql}");
        assert_eq!(rows(&events).len(), *n, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_round_trip() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE v (b BLOB, n, i INTEGER, t TEXT, f REAL)").await;
    let blob = json!({"$blob": "AAH/"});
    let insert = single(
        "INSERT INTO v VALUES (?, ?, ?, ?, ?)",
        json!([blob, null, i64::MAX, "héllo 🌍 世界", 0.5]),
    );
    run(&db, insert).await.unwrap();
    let events = ok(&db, "SELECT b, n, i, t, f, typeof(n) FROM v").await;
    assert_eq!(
        rows(&events),
        vec![vec![
            Value::Bytes(vec![0, 1, 255]),
            Value::Null,
            Value::Int(i64::MAX),
            Value::Text("héllo 🌍 世界".into()),
            Value::Float(0.5),
            Value::Text("null".into()),
        ]]
    );
    let Event::Columns(cols) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(cols[0].source_type.as_deref(), Some("BLOB"));
    assert_eq!(cols[2].source_type.as_deref(), Some("INTEGER"));
}

#[tokio::test(flavor = "multi_thread")]
async fn statement_timeout_is_57014() {
    let (_dir, db) = open();
    let opts = ExecOptions {
        statement_timeout: Some(Duration::from_millis(200)),
    };
    let sql = format!("{INFINITE} SELECT count(*) FROM c");
    for plan in [single(&sql, json!(null)), txn(&[&sql])] {
        let rx = db.execute(plan, opts.clone()).await.unwrap();
        let result = tokio::time::timeout(HANG_GUARD, collect(rx)).await.unwrap();
        let Err(Error::Db(e)) = result else {
            panic!("{result:?}")
        };
        assert_eq!(e.code.as_str(), "57014");
        assert_eq!(e.message, "canceling statement due to statement timeout");
    }
    // The connection is fine afterwards.
    assert_eq!(rows(&ok(&db, "SELECT 1").await), vec![ints(&[1])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_stream_cancels_the_query() {
    // One reader: the next read runs on the thread the cancelled one occupied.
    let (_dir, db) = open_with(1);
    // The first row is ready (so `Columns` arrives) while the count runs forever: once
    // `Columns` is here the job is inside SQLite, and only the progress handler can stop it.
    let counting = single(
        &format!("{INFINITE} SELECT 0 UNION ALL SELECT count(*) FROM c"),
        json!(null),
    );
    let mut rx = db.execute(counting, ExecOptions::default()).await.unwrap();
    assert!(matches!(rx.recv().await, Some(Ok(Event::Step(0)))));
    assert!(matches!(rx.recv().await, Some(Ok(Event::Columns(_)))));
    drop(rx);
    let events = tokio::time::timeout(HANG_GUARD, async { ok(&db, "SELECT 41").await })
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[41])]);

    let streaming = single(&format!("{INFINITE} SELECT x FROM c"), json!(null));
    let mut rx = db.execute(streaming, ExecOptions::default()).await.unwrap();
    assert!(matches!(rx.recv().await, Some(Ok(Event::Step(0)))));
    assert!(matches!(rx.recv().await, Some(Ok(Event::Columns(_)))));
    assert!(matches!(rx.recv().await, Some(Ok(Event::Rows(_)))));
    drop(rx);

    let events = tokio::time::timeout(HANG_GUARD, async { ok(&db, "SELECT 42").await })
        .await
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[42])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_stream_rolls_back_the_transaction() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE t (x)").await;
    let plan = txn(&[
        "INSERT INTO t VALUES (1)",
        &format!("{INFINITE} SELECT x FROM c"),
    ]);
    let mut rx = db.execute(plan, ExecOptions::default()).await.unwrap();
    loop {
        if let Some(Ok(Event::Rows(_))) = rx.recv().await {
            break;
        }
    }
    drop(rx);
    // Runs on the writer after the cancelled job: sees the table as the rollback left it.
    let write = single(
        "INSERT INTO t VALUES (2) RETURNING (SELECT count(*) FROM t)",
        json!(null),
    );
    let events = tokio::time::timeout(HANG_GUARD, run(&db, write))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows(&events), vec![ints(&[1])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_results_arrive_in_bounded_batches() {
    let (_dir, db) = open();
    let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) \
               SELECT x, 'row ' || x FROM c";
    let mut rx = db
        .execute(single(sql, json!(null)), ExecOptions::default())
        .await
        .unwrap();
    let mut expected = 1i64;
    let mut batches = 0;
    let mut finished = false;
    while let Some(item) = rx.recv().await {
        match item.unwrap() {
            Event::Rows(batch) => {
                assert!(
                    !batch.is_empty() && batch.len() <= BATCH_ROWS,
                    "{}",
                    batch.len()
                );
                for row in batch {
                    assert_eq!(row[0], Value::Int(expected));
                    expected += 1;
                }
                batches += 1;
                // A slow consumer: the producer has to wait for room in the channel.
                tokio::task::yield_now().await;
            }
            Event::Done(summary) => assert_eq!(summary.rows_read, 100_000),
            Event::Finished => finished = true,
            Event::Columns(_) | Event::Step(_) => {}
        }
    }
    assert!(finished);
    assert_eq!(expected, 100_001);
    assert!(batches >= 100_000 / BATCH_ROWS, "{batches}");
}

#[tokio::test(flavor = "multi_thread")]
async fn summaries_count_rows_and_inserted_ids() {
    let (_dir, db) = open();
    let ddl = ok(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, x)").await;
    assert_eq!(summaries(&ddl), vec![ExecSummary::default()]);
    let events = ok(&db, "INSERT INTO t (x) VALUES (1), (2), (3)").await;
    let expected = ExecSummary {
        rows_read: 0,
        rows_written: 3,
        last_insert_id: Some(3),
    };
    assert_eq!(summaries(&events), vec![expected]);
    let events = ok(&db, "UPDATE t SET x = x + 1 WHERE id >= 2").await;
    let expected = ExecSummary {
        rows_written: 2,
        ..ExecSummary::default()
    };
    assert_eq!(summaries(&events), vec![expected]);
    let events = ok(&db, "SELECT * FROM t").await;
    let expected = ExecSummary {
        rows_read: 3,
        ..ExecSummary::default()
    };
    assert_eq!(summaries(&events), vec![expected]);
    // DDL after DML reports no writes (SQLite's changes() would still say 2).
    let events = ok(&db, "UPDATE t SET x = 0 WHERE id = 1; CREATE TABLE u (y)").await;
    assert_eq!(summaries(&events)[1], ExecSummary::default());
    let events = ok(&db, "DELETE FROM t WHERE id = 1 RETURNING id").await;
    let expected = ExecSummary {
        rows_read: 1,
        rows_written: 1,
        last_insert_id: None,
    };
    assert_eq!(summaries(&events), vec![expected]);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_sqlstates_and_positions() {
    let (_dir, db) = open();
    let e = err(&db, single("SELECT * FROM missing", json!(null))).await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("42P01", "no such table: missing")
    );
    let e = err(&db, single("SELECT 1; SELEC 2", json!(null))).await;
    assert_eq!(e.code.as_str(), "42601");
    assert_eq!(e.position, Some(11), "position in the whole text: {e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_mode_stops_at_the_first_error_keeping_earlier_steps() {
    let (_dir, db) = open();
    ok(&db, "CREATE TABLE t (x UNIQUE)").await;
    let steps = vec![
        stmt("INSERT INTO t VALUES (1)", json!(null)),
        stmt("INSERT INTO t VALUES (1)", json!(null)),
        stmt("INSERT INTO t VALUES (2)", json!(null)),
    ];
    let e = err(&db, plan(ExecMode::Batch, steps)).await;
    assert_eq!(e.code.as_str(), "23505");
    let events = ok(&db, "SELECT x FROM t").await;
    assert_eq!(rows(&events), vec![ints(&[1])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn size_and_shutdown() {
    let (_dir, db) = open();
    ok(
        &db,
        "CREATE TABLE t (x); INSERT INTO t VALUES (zeroblob(100000))",
    )
    .await;
    let size = db.database_size().await.unwrap();
    assert!(size >= 100_000, "{size}");
    db.shutdown().await;
    let closed = db
        .execute(single("SELECT 1", json!(null)), ExecOptions::default())
        .await;
    assert!(matches!(closed, Err(Error::Closed)), "{closed:?}");
    assert!(matches!(db.database_size().await, Err(Error::Closed)));
    // The file is intact and can be opened again.
    let again = SqliteBackend::open(SqliteConfig::new(db.path())).unwrap();
    assert_eq!(count(&again, "t").await, 1);
    again.shutdown().await;
}

/// Readers keep their read transaction between reads while others keep them busy; every
/// committed write must still be visible to the very next read, whichever path committed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_see_every_commit_reported_before_them() {
    let (_dir, db) = open_with(1);
    ok(&db, "CREATE TABLE v (n INTEGER)").await;
    // Background reads keep the one reader busy, so its snapshot stays open between jobs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut busy = Vec::new();
    for _ in 0..4 {
        let (db, stop) = (db.clone(), std::sync::Arc::clone(&stop));
        busy.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ok(&db, "SELECT count(*) FROM v").await;
            }
        }));
    }
    let count = |events: Vec<Event>| rows(&events)[0][0].clone();
    for i in 0..60i64 {
        assert_eq!(
            count(ok(&db, "SELECT count(*) FROM v").await),
            Value::Int(i)
        );
        match i % 3 {
            0 => drop(ok(&db, "INSERT INTO v VALUES (1)").await),
            1 => drop(run(&db, txn(&["INSERT INTO v VALUES (2)"])).await.unwrap()),
            _ => {
                let mut lease = db.lease_writer(Duration::from_secs(10)).await.unwrap();
                let stream = lease
                    .execute(
                        single("INSERT INTO v VALUES (3)", json!(null)),
                        &ExecOptions::default(),
                    )
                    .unwrap();
                collect(stream).await.unwrap();
                lease.commit().await.unwrap();
            }
        }
        // A commit reported to us shows in the next read.
        assert_eq!(
            count(ok(&db, "SELECT count(*) FROM v").await),
            Value::Int(i + 1)
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in busy {
        task.await.unwrap();
    }
}

/// An idle reader holds no snapshot, so a checkpoint can reset the whole WAL.
#[tokio::test]
async fn idle_readers_do_not_hold_back_checkpoints() {
    let (_dir, db) = open_with(2);
    ok(&db, "CREATE TABLE w (n INTEGER)").await;
    for _ in 0..20 {
        ok(&db, "SELECT count(*) FROM w").await;
        ok(&db, "INSERT INTO w VALUES (1)").await;
    }
    ok(&db, "SELECT count(*) FROM w").await;
    // Let the readers notice they are idle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = ok(&db, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert_eq!(
        rows(&events)[0][0],
        Value::Int(0),
        "checkpoint was blocked: {events:?}"
    );
}
