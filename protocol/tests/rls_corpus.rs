#![allow(clippy::unwrap_used)]
//! Runs the adversarial row-level-security corpus (`fixtures/rls_corpus.json`) against a
//! real in-memory SQLite: every case is either refused with 42501 or returns exactly the
//! caller's rows, and no protected value ever reaches the client.

use rusqlite::Connection;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Map, Value};
use starbase_protocol::Dialect;
use starbase_protocol::SqlState;
use starbase_protocol::sql::rls::{Context, PolicyRow, PolicySet, Relations, RlsCache, rewrite};

fn corpus() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rls_corpus.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn policy_set(corpus: &Value) -> PolicySet {
    let text = |p: &Value, k: &str| p[k].as_str().map(str::to_owned);
    PolicySet::from_rows(
        corpus["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PolicyRow {
                actions: text(p, "actions").unwrap(),
                schema: text(p, "schema"),
                table: text(p, "table").unwrap(),
                column: text(p, "column").unwrap(),
                value: text(p, "value").unwrap(),
                value_type: text(p, "value_type"),
                operator: text(p, "operator"),
            }),
    )
}

fn relations(corpus: &Value) -> Relations {
    let views = corpus["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let reads = v[1].as_array().unwrap().iter();
            (
                v[0].as_str().unwrap().to_owned(),
                reads.map(|r| r.as_str().unwrap().to_owned()).collect(),
            )
        })
        .collect();
    Relations::new(views)
}

fn fresh_db(corpus: &Value) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for sql in corpus["setup"].as_array().unwrap() {
        conn.execute_batch(sql.as_str().unwrap()).unwrap();
    }
    conn
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| SqlValue::Real(n.as_f64().unwrap()), SqlValue::Integer),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Runs one statement and returns its rows as JSON, sorted (rows are compared as multisets).
fn run(conn: &Connection, sql: &str, params: &[Value]) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(to_sql)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let cells = (0..n)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::from(i),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::from(format!("{b:?}")),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(Value::Array(cells));
    }
    out.sort_by_key(ToString::to_string);
    Ok(out)
}

fn sorted(rows: &Value) -> Vec<Value> {
    let mut rows = rows.as_array().cloned().unwrap_or_default();
    rows.sort_by_key(ToString::to_string);
    rows
}

/// Runs one case; returns a failure description.
fn run_case(corpus: &Value, case: &Value, cache: Option<&RlsCache>) -> Result<(), String> {
    let policies = policy_set(corpus);
    let relations = relations(corpus);
    let marker = corpus["leak_marker"].as_str().unwrap();
    let sql = case["sql"].as_str().unwrap();
    let subject = match case.get("subject") {
        None => Some("u1"),
        Some(Value::Null) => None,
        Some(s) => s.as_str(),
    };
    let default_claims: Map<String, Value> = serde_json::from_str(r#"{"org": 10}"#).unwrap();
    let claims = case
        .get("claims")
        .and_then(Value::as_object)
        .unwrap_or(&default_claims);
    let ctx = Context {
        subject,
        claims: Some(claims),
    };
    let outcome = match cache {
        Some(c) => c.rewrite(sql, Dialect::Sqlite, &policies, &relations, &ctx),
        None => rewrite(sql, Dialect::Sqlite, &policies, &relations, &ctx),
    };
    let expect = case["expect"].as_str().unwrap();
    let rewritten = match (outcome, expect) {
        (Err(e), "denied" | "error") if e.code == SqlState::INSUFFICIENT_PRIVILEGE => return Ok(()),
        (Err(e), _) => return Err(format!("refused ({}): {}", e.code, e.message)),
        (Ok(r), "denied") => return Err(format!("allowed as {}", r.sql)),
        (Ok(r), _) => r,
    };
    let conn = fresh_db(corpus);
    let params = case["params"].as_array().cloned().unwrap_or_default();
    let rows = match (run(&conn, &rewritten.sql, &params), expect) {
        (Err(_), "error") => return Ok(()),
        (Ok(rows), "error") => return Err(format!("{} ran and returned {rows:?}", rewritten.sql)),
        (Err(e), _) => return Err(format!("{} failed on SQLite: {e}", rewritten.sql)),
        (Ok(rows), _) => rows,
    };
    let shown = Value::Array(rows.clone()).to_string();
    if shown.contains(marker) {
        return Err(format!("LEAKED via {}: {shown}", rewritten.sql));
    }
    if rows != sorted(&case["rows"]) {
        return Err(format!("{} returned {shown}", rewritten.sql));
    }
    if let Some(check) = case.get("check") {
        let after = run(&conn, check["sql"].as_str().unwrap(), &[]).unwrap();
        if after != sorted(&check["rows"]) {
            return Err(format!(
                "{} left {} for {}",
                rewritten.sql,
                Value::Array(after),
                check["sql"]
            ));
        }
    }
    Ok(())
}

fn run_all(cache: Option<&RlsCache>) {
    let corpus = corpus();
    let cases = corpus["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "the corpus must hold at least 40 cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run_case(&corpus, case, cache)
                .err()
                .map(|e| format!("{}: {e}", case["name"].as_str().unwrap()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_holds_on_sqlite() {
    run_all(None);
}

#[test]
fn the_invalid_policy_row_denies_its_table() {
    let set = policy_set(&corpus());
    assert_eq!(set.policies().len(), 6);
    assert!(!set.is_empty());
}

#[test]
fn corpus_holds_through_the_cache_twice() {
    let cache = RlsCache::new(8);
    run_all(Some(&cache));
    run_all(Some(&cache));
    assert!(cache.len() <= 8);
}
