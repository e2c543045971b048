//! The conformance suite: the same assertions on SQLite, PostgreSQL (127.0.0.1:5432) and
//! MariaDB/MySQL (127.0.0.1:3306), each test on its own database or schema.
//!
//! Type round-trips in their HTTP form, the same SQLSTATE for the same failure,
//! transaction plans rolled back on error, sessions across plans, parameters, and a large
//! result read by a slow consumer without growing memory; failure behaviour is in
//! `conformance_failures.rs`. Without a server the test prints `skipped:` and passes,
//! unless `CI=true`.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[macro_use]
mod common;

use std::time::Duration;

use common::{Harness, code, count, http_rows, plan, positional, srun};
use serde_json::json;
use starbase_backends::sqlite::{ExecOptions, SessionConfig};
use starbase_backends::{BackendKind, TxnState};
use starbase_protocol::{ExecMode, Params, Value};

on_every_backend!(
    type_round_trips,
    same_sqlstate_for_same_failure,
    transaction_plan_rolls_back,
    session_transactions,
    placeholders_bind_alike,
    large_result_slow_consumer,
);

async fn type_round_trips(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let ddl = match kind {
        BackendKind::Sqlite => {
            "CREATE TABLE rt (id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, d TEXT, s TEXT, b BLOB, flag BOOLEAN, j JSON)"
        }
        BackendKind::Postgres => {
            "CREATE TABLE rt (id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, d NUMERIC(30,5), s TEXT, b BYTEA, flag BOOLEAN, j JSONB)"
        }
        BackendKind::MySql => {
            "CREATE TABLE rt (id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE, d DECIMAL(30,5), s TEXT, b BLOB, flag BOOLEAN, j JSON)"
        }
    };
    h.run(ddl).await.unwrap();
    let text = "héllo 'q' \"dq\"\nline2 🌍";
    let rows = [
        vec![
            Value::Int(1),
            Value::Int(i64::MIN),
            Value::Float(-0.25),
            Value::Text("12345678901234567890.12345".into()),
            Value::Text(text.into()),
            Value::Bytes(vec![0, 255, 1, 128]),
            Value::Bool(true),
            Value::Json(json!({"a": [1, "x", null]})),
        ],
        vec![
            Value::Int(2),
            Value::Int(i64::MAX),
            Value::Float(1e300),
            Value::Text("-0.00001".into()),
            Value::Text(String::new()),
            Value::Bytes(Vec::new()),
            Value::Bool(false),
            Value::Json(json!([])),
        ],
        vec![
            Value::Int(3),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
    ];
    for row in rows {
        let insert =
            "INSERT INTO rt (id, i, f, d, s, b, flag, j) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let out = h.run_with(insert, positional(row)).await.unwrap();
        assert_eq!(out.written, 1, "{kind:?}");
    }
    let out = h
        .run("SELECT id, i, f, d, s, b, flag, j FROM rt ORDER BY id")
        .await
        .unwrap();
    let mut got = http_rows(&out);
    // JSON is text on SQLite and MariaDB: compare documents.
    for row in &mut got {
        if let serde_json::Value::String(s) = &row[7] {
            row[7] = serde_json::from_str(s).unwrap();
        }
    }
    let expected = vec![
        vec![
            json!(1),
            json!(i64::MIN),
            json!(-0.25),
            json!("12345678901234567890.12345"),
            json!(text),
            json!({"$blob": "AP8BgA=="}),
            json!(true),
            json!({"a": [1, "x", null]}),
        ],
        vec![
            json!(2),
            json!(i64::MAX),
            json!(1e300),
            json!("-0.00001"),
            json!(""),
            json!({"$blob": ""}),
            json!(false),
            json!([]),
        ],
        vec![
            json!(3),
            json!(null),
            json!(null),
            json!(null),
            json!(null),
            json!(null),
            json!(null),
            json!(null),
        ],
    ];
    assert_eq!(got, expected, "{kind:?}");
    h.finish().await;
}

async fn same_sqlstate_for_same_failure(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    h.run("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    h.run("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, name VARCHAR(20), qty INTEGER, UNIQUE (name), CHECK (qty > 0), FOREIGN KEY (parent_id) REFERENCES parent (id))").await.unwrap();
    h.run("INSERT INTO parent (id) VALUES (1)").await.unwrap();
    h.run("INSERT INTO child (id, parent_id, name, qty) VALUES (1, 1, 'a', 1)")
        .await
        .unwrap();
    let cases = [
        (
            "INSERT INTO child (id, parent_id, name, qty) VALUES (2, 1, 'a', 1)",
            "23505",
        ),
        ("INSERT INTO parent (id) VALUES (1)", "23505"),
        (
            "INSERT INTO child (id, parent_id, name, qty) VALUES (3, 999, 'c', 1)",
            "23503",
        ),
        ("DELETE FROM parent WHERE id = 1", "23503"),
        (
            "INSERT INTO child (id, parent_id, name, qty) VALUES (4, NULL, 'd', 1)",
            "23502",
        ),
        (
            "INSERT INTO child (id, parent_id, name, qty) VALUES (5, 1, 'e', -1)",
            "23514",
        ),
        ("SELEC 1", "42601"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM parent", "42703"),
    ];
    for (sql, expected) in cases {
        assert_eq!(code(h.run(sql).await), expected, "{kind:?}: {sql}");
    }
    h.finish().await;
}

async fn transaction_plan_rolls_back(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    h.run("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let steps = [
        ("INSERT INTO t (id) VALUES (1)", Params::None),
        ("INSERT INTO t (id) VALUES (2)", Params::None),
        ("INSERT INTO t (id) VALUES (1)", Params::None),
    ];
    assert_eq!(
        code(h.plan(ExecMode::Transaction, &steps).await),
        "23505",
        "{kind:?}"
    );
    let count = h.run("SELECT count(*) FROM t").await.unwrap();
    assert_eq!(
        count.rows,
        vec![vec![Value::Int(0)]],
        "{kind:?}: nothing committed"
    );
    // Transaction control inside a transaction plan is refused before anything runs.
    let steps = [
        ("INSERT INTO t (id) VALUES (1)", Params::None),
        ("COMMIT", Params::None),
    ];
    assert_eq!(
        code(h.plan(ExecMode::Transaction, &steps).await),
        "25001",
        "{kind:?}"
    );
    // A successful one commits everything.
    let steps = [
        ("INSERT INTO t (id) VALUES (1)", Params::None),
        ("INSERT INTO t (id) VALUES (2)", Params::None),
    ];
    h.plan(ExecMode::Transaction, &steps).await.unwrap();
    let count = h.run("SELECT count(*) FROM t").await.unwrap();
    assert_eq!(count.rows, vec![vec![Value::Int(2)]], "{kind:?}");
    // Rows matched count as written, even when nothing changes.
    let same = h.run("UPDATE t SET id = id WHERE id = 1").await.unwrap();
    assert_eq!(same.written, 1, "{kind:?}");
    h.finish().await;
}

async fn session_transactions(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    h.run("CREATE TABLE s (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    let mut s = h.db.session(SessionConfig::default());
    srun(&mut s, kind, "BEGIN").await.unwrap();
    assert_eq!(s.txn_state(), TxnState::InTransaction, "{kind:?}");
    srun(&mut s, kind, "INSERT INTO s (id) VALUES (1)")
        .await
        .unwrap();
    assert_eq!(
        count(&h, "s").await,
        Value::Int(0),
        "{kind:?}: uncommitted rows are invisible"
    );
    srun(&mut s, kind, "COMMIT").await.unwrap();
    assert_eq!(s.txn_state(), TxnState::Idle, "{kind:?}");
    assert_eq!(count(&h, "s").await, Value::Int(1), "{kind:?}");

    srun(&mut s, kind, "BEGIN").await.unwrap();
    srun(&mut s, kind, "INSERT INTO s (id) VALUES (2)")
        .await
        .unwrap();
    srun(&mut s, kind, "ROLLBACK").await.unwrap();
    assert_eq!(s.txn_state(), TxnState::Idle, "{kind:?}");
    assert_eq!(count(&h, "s").await, Value::Int(1), "{kind:?}: rolled back");

    srun(&mut s, kind, "BEGIN").await.unwrap();
    assert_eq!(
        code(srun(&mut s, kind, "INSERT INTO s (id) VALUES (1)").await),
        "23505",
        "{kind:?}"
    );
    assert_eq!(s.txn_state(), TxnState::Failed, "{kind:?}");
    assert_eq!(
        code(srun(&mut s, kind, "SELECT 1").await),
        "25P02",
        "{kind:?}"
    );
    srun(&mut s, kind, "ROLLBACK").await.unwrap();
    assert_eq!(s.txn_state(), TxnState::Idle, "{kind:?}");
    s.close().await;
    h.finish().await;
}

async fn placeholders_bind_alike(kind: BackendKind) {
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    h.run("CREATE TABLE p (a INTEGER, b VARCHAR(10))")
        .await
        .unwrap();
    h.run_with(
        "INSERT INTO p (a, b) VALUES ($1, $2)",
        positional(vec![Value::Int(1), Value::Text("x".into())]),
    )
    .await
    .unwrap();
    let named = Params::Named(vec![
        ("a".into(), Value::Int(2)),
        ("b".into(), Value::Text("y".into())),
    ]);
    h.run_with("INSERT INTO p (a, b) VALUES (:a, :b)", named)
        .await
        .unwrap();
    let out = h
        .run_with(
            "SELECT a, b FROM p WHERE a = $2 OR b = $1 OR a = $2 ORDER BY a",
            positional(vec![Value::Text("y".into()), Value::Int(1)]),
        )
        .await
        .unwrap();
    assert_eq!(
        http_rows(&out),
        vec![vec![json!(1), json!("x")], vec![json!(2), json!("y")]],
        "{kind:?}"
    );
    let missing = h
        .run_with("SELECT a FROM p WHERE a = $1", Params::None)
        .await;
    assert_eq!(code(missing), "22023", "{kind:?}");
    // Two statements in one step run in order, all or nothing.
    let step = "INSERT INTO p (a, b) VALUES (3, 'z'); INSERT INTO p (a, b) VALUES ($1, 'w')";
    h.run_with(step, positional(vec![Value::Int(4)]))
        .await
        .unwrap();
    assert_eq!(count(&h, "p").await, Value::Int(4), "{kind:?}");
    // Describe reports columns without running.
    let described = h
        .plan(ExecMode::Describe, &[("SELECT a, b FROM p", Params::None)])
        .await
        .unwrap();
    let names: Vec<_> = described.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "{kind:?}");
    assert!(described.rows.is_empty());
    h.finish().await;
}

/// The resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn large_result_slow_consumer(kind: BackendKind) {
    const ROWS: i64 = 200_000;
    let Some(h) = Harness::start(kind).await else {
        return;
    };
    let sql = match kind {
        BackendKind::Sqlite => {
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200000) SELECT n, printf('%500s', 'x') FROM c"
        }
        BackendKind::Postgres => "SELECT n, repeat('x', 500) FROM generate_series(1, 200000) AS n",
        BackendKind::MySql => {
            "WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < 999) \
             SELECT a.n * 1000 + b.n + 1 AS n, REPEAT('x', 500) FROM d AS a CROSS JOIN d AS b \
             WHERE a.n < 200 ORDER BY n"
        }
    };
    let mut stream =
        h.db.execute(
            plan(kind, ExecMode::Single, &[(sql, Params::None)]),
            ExecOptions::default(),
        )
        .await
        .unwrap();
    let (mut seen, mut baseline, mut peak) = (0i64, None, 0u64);
    while let Some(event) = stream.recv().await {
        match event.unwrap() {
            starbase_backends::Event::Rows(batch) => {
                for row in &batch {
                    seen += 1;
                    assert_eq!(row[0], Value::Int(seen), "{kind:?}: rows in order");
                }
                let rss = rss_kib();
                baseline.get_or_insert(rss);
                peak = peak.max(rss);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            starbase_backends::Event::Finished => break,
            _ => {}
        }
    }
    assert_eq!(seen, ROWS, "{kind:?}");
    // The whole result is ~100 MiB of text: buffering it would blow far past this bound.
    let growth = peak.saturating_sub(baseline.unwrap_or(peak));
    eprintln!("{kind:?}: RSS grew by {growth} KiB while streaming {ROWS} rows");
    assert!(
        growth < 64 * 1024,
        "{kind:?}: RSS grew by {growth} KiB while streaming"
    );
    h.finish().await;
}
