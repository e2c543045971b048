//! Interactive sessions: transactions spanning plans with PostgreSQL's rules (failed
//! transactions, idle COMMIT/ROLLBACK, savepoints), the writer pinned to the session while
//! its transaction is open and released on commit, drop, idle timeout or shutdown.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use starbase_backends::sqlite::{
    ExecOptions, SessionConfig, SqliteBackend, SqliteConfig, SqliteSession,
};
use starbase_backends::{Error, Event, ResultStream, TxnState};
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, SqlState, Statement, Value};
use tempfile::TempDir;

/// Generous bound for waits that would hang if the writer were never released.
const HANG_GUARD: Duration = Duration::from_secs(30);
const INFINITE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                        SELECT count(*) FROM c";

async fn open() -> (TempDir, SqliteBackend) {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteBackend::open(SqliteConfig::new(dir.path().join("db.sqlite"))).unwrap();
    run(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
        .await
        .unwrap();
    (dir, db)
}

fn plan_in(sql: &str, dialect: Dialect) -> Plan {
    Plan {
        mode: ExecMode::Single,
        steps: vec![Statement::new(sql, dialect, Params::None)],
    }
}

fn single(sql: &str) -> Plan {
    plan_in(sql, Dialect::Sqlite)
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
    panic!("stream ended without Finished or an error");
}

async fn run(db: &SqliteBackend, sql: &str) -> Result<Vec<Vec<Value>>, Error> {
    drain(db.execute(single(sql), ExecOptions::default()).await?).await
}

async fn srun(s: &mut SqliteSession, sql: &str) -> Result<Vec<Vec<Value>>, Error> {
    drain(s.execute(single(sql), ExecOptions::default()).await?).await
}

async fn sok(s: &mut SqliteSession, sql: &str) -> Vec<Vec<Value>> {
    match srun(s, sql).await {
        Ok(rows) => rows,
        Err(e) => panic!("{sql}: {e:?}"),
    }
}

async fn serr(s: &mut SqliteSession, sql: &str) -> DbError {
    match srun(s, sql).await {
        Err(Error::Db(e)) => e,
        other => panic!("{sql}: expected a database error, got {other:?}"),
    }
}

fn whos(rows: &[Vec<Value>]) -> Vec<String> {
    rows.iter()
        .map(|r| match r.as_slice() {
            [Value::Text(who)] => who.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

async fn committed(db: &SqliteBackend) -> Vec<String> {
    whos(&run(db, "SELECT who FROM t ORDER BY id").await.unwrap())
}

fn session(db: &SqliteBackend) -> SqliteSession {
    db.session(SessionConfig::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_spans_plans_and_commit_makes_it_visible() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    assert_eq!(s.txn_state(), TxnState::Idle);
    sok(&mut s, "BEGIN").await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    sok(&mut s, "INSERT INTO t (who) VALUES ('a')").await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    // The session's own read runs inside its transaction and sees the row...
    assert_eq!(whos(&sok(&mut s, "SELECT who FROM t").await), ["a"]);
    // ...while a read elsewhere (a reader, WAL) does not, and does not wait for the writer.
    let elsewhere = tokio::time::timeout(HANG_GUARD, committed(&db))
        .await
        .unwrap();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    sok(&mut s, "COMMIT").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(committed(&db).await, ["a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_discards_the_transaction() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('gone')").await;
    sok(&mut s, "ROLLBACK").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert!(committed(&db).await.is_empty());
    // Idle again: a plain write autocommits.
    sok(&mut s, "INSERT INTO t (who) VALUES ('kept')").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(committed(&db).await, ["kept"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_writes_wait_for_the_transaction_and_commit_after_it() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('a1')").await;
    // Queued on the writer now (execute returns once the job is queued).
    let other = db
        .execute(
            single("INSERT INTO t (who) VALUES ('http')"),
            ExecOptions::default(),
        )
        .await
        .unwrap();
    let other = tokio::spawn(drain(other));
    // It cannot slip in between the session's statements.
    sok(&mut s, "INSERT INTO t (who) VALUES ('a2')").await;
    assert_eq!(
        whos(&sok(&mut s, "SELECT who FROM t ORDER BY id").await),
        ["a1", "a2"]
    );
    assert!(!other.is_finished());
    sok(&mut s, "COMMIT").await;
    tokio::time::timeout(HANG_GUARD, other)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(committed(&db).await, ["a1", "a2", "http"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_fails_the_transaction_until_rollback() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (id, who) VALUES (1, 'a')").await;
    let e = serr(&mut s, "INSERT INTO t (id, who) VALUES (1, 'dup')").await;
    assert_eq!(e.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(s.txn_state(), TxnState::Failed);
    // Refused unrun: the insert does not happen, even after ROLLBACK TO nothing.
    let e = serr(&mut s, "INSERT INTO t (id, who) VALUES (2, 'ignored')").await;
    assert_eq!(e.code, SqlState::IN_FAILED_SQL_TRANSACTION);
    assert!(e.message.starts_with("current transaction is aborted"));
    let e = serr(&mut s, "SELECT 1").await;
    assert_eq!(e.code, SqlState::IN_FAILED_SQL_TRANSACTION);
    assert_eq!(s.txn_state(), TxnState::Failed);
    sok(&mut s, "ROLLBACK").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert!(committed(&db).await.is_empty());
    // Usable again.
    sok(&mut s, "INSERT INTO t (who) VALUES ('after')").await;
    assert_eq!(committed(&db).await, ["after"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_of_a_failed_transaction_rolls_back_and_succeeds() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('a')").await;
    serr(&mut s, "SELECT * FROM missing").await;
    assert_eq!(s.txn_state(), TxnState::Failed);
    sok(&mut s, "COMMIT").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert!(committed(&db).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_sqlite_rolled_back_itself_stays_failed() {
    let (_dir, db) = open().await;
    run(&db, "CREATE TABLE u (x UNIQUE ON CONFLICT ROLLBACK)")
        .await
        .unwrap();
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO u VALUES (1)").await;
    serr(&mut s, "INSERT INTO u VALUES (1)").await;
    // SQLite has rolled back already; the session still refuses until the client ends it.
    assert_eq!(s.txn_state(), TxnState::Failed);
    let e = serr(&mut s, "INSERT INTO u VALUES (2)").await;
    assert_eq!(e.code, SqlState::IN_FAILED_SQL_TRANSACTION);
    sok(&mut s, "ROLLBACK").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(
        run(&db, "SELECT count(*) FROM u").await.unwrap(),
        [[Value::Int(0)]]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_commit_and_nested_begin_succeed() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "COMMIT").await;
    sok(&mut s, "ROLLBACK").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "BEGIN").await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    sok(&mut s, "INSERT INTO t (who) VALUES ('a')").await;
    sok(&mut s, "COMMIT").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(committed(&db).await, ["a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_spellings_and_a_whole_transaction_in_one_text() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    let start = plan_in(
        "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        Dialect::Postgres,
    );
    drain(s.execute(start, ExecOptions::default()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    sok(&mut s, "INSERT INTO t (who) VALUES ('pg')").await;
    let commit = plan_in("COMMIT WORK", Dialect::Postgres);
    drain(s.execute(commit, ExecOptions::default()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(s.txn_state(), TxnState::Idle);
    sok(
        &mut s,
        "BEGIN; INSERT INTO t (who) VALUES ('one'); INSERT INTO t (who) VALUES ('text')",
    )
    .await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    sok(
        &mut s,
        "COMMIT; INSERT INTO t (who) VALUES ('autocommitted')",
    )
    .await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(committed(&db).await, ["pg", "one", "text", "autocommitted"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn savepoints_inside_a_transaction() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('kept')").await;
    sok(&mut s, "SAVEPOINT sp").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('undone')").await;
    sok(&mut s, "ROLLBACK TO SAVEPOINT sp").await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    // An error after the savepoint fails the transaction; ROLLBACK TO recovers it.
    sok(&mut s, "SAVEPOINT sp2").await;
    serr(&mut s, "SELECT * FROM missing").await;
    assert_eq!(s.txn_state(), TxnState::Failed);
    sok(&mut s, "ROLLBACK TO sp2").await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    sok(&mut s, "INSERT INTO t (who) VALUES ('also kept')").await;
    sok(&mut s, "RELEASE sp").await;
    sok(&mut s, "COMMIT").await;
    assert_eq!(committed(&db).await, ["kept", "also kept"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_savepoint_outside_a_transaction_opens_one() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "SAVEPOINT outer").await;
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    sok(&mut s, "INSERT INTO t (who) VALUES ('a')").await;
    assert!(committed(&db).await.is_empty());
    sok(&mut s, "RELEASE outer").await;
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(committed(&db).await, ["a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_a_session_rolls_back_and_releases_the_writer() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('dropped')").await;
    drop(s);
    tokio::time::timeout(HANG_GUARD, run(&db, "INSERT INTO t (who) VALUES ('next')"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(committed(&db).await, ["next"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_rolls_back_and_releases_the_writer() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('closed')").await;
    tokio::time::timeout(HANG_GUARD, s.close()).await.unwrap();
    tokio::time::timeout(HANG_GUARD, run(&db, "INSERT INTO t (who) VALUES ('next')"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(committed(&db).await, ["next"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_idle_timeout_rolls_back_releases_the_writer_and_reports_25p03() {
    let (_dir, db) = open().await;
    let mut s = db.session(SessionConfig {
        idle_in_transaction_timeout: Some(Duration::from_millis(200)),
    });
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('idle')").await;
    // This write can only run once the writer gave up on the idle session.
    tokio::time::timeout(HANG_GUARD, run(&db, "INSERT INTO t (who) VALUES ('other')"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(committed(&db).await, ["other"]);
    assert_eq!(s.txn_state(), TxnState::Idle);
    let e = serr(&mut s, "INSERT INTO t (who) VALUES ('late')").await;
    assert_eq!(e.code.as_str(), "25P03");
    // Reported once; the session is idle and usable again.
    sok(&mut s, "INSERT INTO t (who) VALUES ('again')").await;
    assert_eq!(committed(&db).await, ["other", "again"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_statement_fails_the_transaction() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('a')").await;
    let opts = ExecOptions {
        statement_timeout: Some(Duration::from_millis(50)),
    };
    let e = match drain(s.execute(single(INFINITE), opts).await.unwrap()).await {
        Err(Error::Db(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(e.code, SqlState::QUERY_CANCELED);
    assert_eq!(s.txn_state(), TxnState::Failed);
    sok(&mut s, "ROLLBACK").await;
    // Dropping a stream mid-statement cancels it and fails the transaction too.
    sok(&mut s, "BEGIN").await;
    let mut stream = s
        .execute(single(INFINITE), ExecOptions::default())
        .await
        .unwrap();
    // Once the statement has started (a stream dropped before that cancels nothing that ran).
    let first = tokio::time::timeout(HANG_GUARD, stream.recv())
        .await
        .unwrap();
    assert!(matches!(first, Some(Ok(Event::Step(0)))), "{first:?}");
    drop(stream);
    let e = tokio::time::timeout(HANG_GUARD, serr(&mut s, "SELECT 1"))
        .await
        .unwrap();
    assert_eq!(e.code, SqlState::IN_FAILED_SQL_TRANSACTION);
    sok(&mut s, "ROLLBACK").await;
    assert!(committed(&db).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_plans_behave_like_execute() {
    let (_dir, db) = open().await;
    let mut s = session(&db);
    // Several statements in one text outside a transaction: all or nothing.
    let e = serr(
        &mut s,
        "INSERT INTO t (id, who) VALUES (1, 'a'); INSERT INTO t (id, who) VALUES (1, 'b')",
    )
    .await;
    assert_eq!(e.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert!(committed(&db).await.is_empty());
    // A transaction request commits on its own.
    let request = Plan {
        mode: ExecMode::Transaction,
        steps: vec![Statement::new(
            "INSERT INTO t (who) VALUES ('req')",
            Dialect::Sqlite,
            Params::None,
        )],
    };
    drain(
        s.execute(request.clone(), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(s.txn_state(), TxnState::Idle);
    assert_eq!(committed(&db).await, ["req"]);
    // Inside a transaction it is refused (and, as any error there, fails it).
    sok(&mut s, "BEGIN").await;
    match drain(s.execute(request, ExecOptions::default()).await.unwrap()).await {
        Err(Error::Db(e)) => assert_eq!(e.code, SqlState::ACTIVE_SQL_TRANSACTION),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.txn_state(), TxnState::Failed);
    sok(&mut s, "ROLLBACK").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sessions_take_turns_on_the_writer() {
    let (_dir, db) = open().await;
    let mut a = session(&db);
    let mut b = session(&db);
    sok(&mut a, "BEGIN").await;
    sok(&mut a, "INSERT INTO t (who) VALUES ('a')").await;
    // B's read runs on a reader at once and does not see A's row.
    assert!(whos(&sok(&mut b, "SELECT who FROM t").await).is_empty());
    // B's BEGIN waits for the writer until A commits.
    let waiting = tokio::spawn(async move {
        sok(&mut b, "BEGIN").await;
        let seen = whos(&sok(&mut b, "SELECT who FROM t").await);
        sok(&mut b, "INSERT INTO t (who) VALUES ('b')").await;
        sok(&mut b, "COMMIT").await;
        seen
    });
    sok(&mut a, "COMMIT").await;
    let seen = tokio::time::timeout(HANG_GUARD, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, ["a"]);
    assert_eq!(committed(&db).await, ["a", "b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_releases_a_pinned_writer() {
    let (dir, db) = open().await;
    let mut s = session(&db);
    sok(&mut s, "BEGIN").await;
    sok(&mut s, "INSERT INTO t (who) VALUES ('uncommitted')").await;
    tokio::time::timeout(HANG_GUARD, db.shutdown())
        .await
        .unwrap();
    assert!(matches!(
        s.execute(single("COMMIT"), ExecOptions::default()).await,
        Err(Error::Closed)
    ));
    drop(s);
    let db = SqliteBackend::open(SqliteConfig::new(dir.path().join("db.sqlite"))).unwrap();
    assert!(committed(&db).await.is_empty());
    db.shutdown().await;
}

fn describe(sql: &str) -> Plan {
    Plan {
        mode: ExecMode::Describe,
        steps: vec![Statement::new(sql, Dialect::Postgres, Params::None)],
    }
}

/// The columns each statement of a describe plan reports, by name and declared type.
async fn described(rx: ResultStream) -> Result<Vec<Vec<(String, Option<String>)>>, Error> {
    let mut rx = rx;
    let mut out = Vec::new();
    while let Some(item) = rx.recv().await {
        match item? {
            Event::Columns(cols) => out.push(
                cols.iter()
                    .map(|c| (c.name.clone(), c.source_type.clone()))
                    .collect(),
            ),
            Event::Rows(_) => panic!("a describe plan returned rows"),
            Event::Finished => return Ok(out),
            _ => {}
        }
    }
    panic!("stream ended without Finished or an error");
}

#[tokio::test]
async fn describe_reports_columns_without_running() {
    let (_dir, db) = open().await;
    let cols = described(
        db.execute(
            describe("INSERT INTO t (who) VALUES ($1) RETURNING id, who"),
            ExecOptions::default(),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        cols,
        vec![vec![
            ("id".to_owned(), Some("INTEGER".to_owned())),
            ("who".to_owned(), Some("TEXT".to_owned()))
        ]]
    );
    // Nothing ran.
    assert_eq!(
        run(&db, "SELECT count(*) FROM t").await.unwrap(),
        vec![vec![Value::Int(0)]]
    );
    let err = described(
        db.execute(describe("SELECT nope FROM t"), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::UNDEFINED_COLUMN);
}

#[tokio::test]
async fn describe_in_a_transaction_sees_its_tables_and_respects_failure() {
    let (_dir, db) = open().await;
    let mut s = db.session(SessionConfig::default());
    srun(&mut s, "BEGIN").await.unwrap();
    srun(&mut s, "CREATE TABLE fresh (a SMALLINT, b TIMESTAMPTZ)")
        .await
        .unwrap();
    let cols = described(
        s.execute(describe("SELECT a, b FROM fresh"), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        cols,
        vec![vec![
            ("a".to_owned(), Some("SMALLINT".to_owned())),
            ("b".to_owned(), Some("TIMESTAMPTZ".to_owned()))
        ]]
    );
    assert_eq!(s.txn_state(), TxnState::InTransaction);
    // A statement that cannot be prepared fails the transaction, as a Parse error does.
    let err = described(
        s.execute(describe("SELECT * FROM missing"), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::UNDEFINED_TABLE);
    assert_eq!(s.txn_state(), TxnState::Failed);
    let err = described(
        s.execute(describe("SELECT 1"), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::IN_FAILED_SQL_TRANSACTION);
    srun(&mut s, "ROLLBACK").await.unwrap();
    assert_eq!(s.txn_state(), TxnState::Idle);
}
