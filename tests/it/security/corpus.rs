//! The adversarial row-level-security corpus (`protocol/tests/fixtures/rls_corpus.json`,
//! which the rewriter's own tests run on bare SQLite) run through the gateway on HTTP,
//! WebSocket and pgwire, as a JWT user: nothing marked `LEAK` may ever reach the client,
//! every `denied` case is refused, every `rows` case returns exactly its rows, and every
//! `check` holds afterwards. Each case gets a fresh gateway.

use serde_json::{Value, json};

use crate::common::jwt::{HMAC_SECRET, Signer, now};
use crate::common::{ADMIN, CLIENT, TestGateway};

const CORPUS: &str = include_str!("../../../protocol/tests/fixtures/rls_corpus.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frontend {
    Http,
    WebSocket,
    Pgwire,
}

/// What one case did on one frontend.
#[derive(Debug, Default)]
struct Tally {
    run: usize,
    denied: usize,
    exact: usize,
    /// pgwire only: the statement failed to translate or run (nothing leaked, nothing written).
    refused_otherwise: usize,
    /// Cases this frontend cannot express (an attached database, or `?` parameters on the
    /// wire, where parameters are `$n`).
    not_applicable: usize,
}

fn corpus() -> Value {
    serde_json::from_str(CORPUS).unwrap()
}

/// Statements of the set-up and cases that need `ATTACH`, which is per connection: a
/// pooled gateway cannot hold one database attached across requests.
fn uses_attached(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("aux") || lower.contains("attach")
}

async fn prepare(gw: &TestGateway, corpus: &Value) {
    for sql in corpus["setup"].as_array().unwrap() {
        let sql = sql.as_str().unwrap();
        if uses_attached(sql) {
            continue;
        }
        let (status, body) = gw.post("/query", json!({"sql": sql})).await;
        assert_eq!(status, 200, "{sql}: {body}");
    }
    // As StarbaseDB users do, with SQL: this also stores the corpus's deliberately invalid
    // policy, which `/admin/rls/policies` would refuse and which must deny its table.
    for p in corpus["policies"].as_array().unwrap() {
        let sql = "INSERT INTO tmp_rls_policies \
                   (actions, \"schema\", \"table\", \"column\", value, value_type, operator) \
                   VALUES (?, ?, ?, ?, ?, ?, ?)";
        let params = json!([
            p["actions"],
            p["schema"],
            p["table"],
            p["column"],
            p["value"],
            p["value_type"],
            p["operator"]
        ]);
        let (status, body) = gw
            .post("/query", json!({"sql": sql, "params": params}))
            .await;
        assert_eq!(status, 200, "{p}: {body}");
    }
}

/// The caller's credential: a JWT with the case's subject and claims, or the client token
/// when the case has no subject (a JWT must carry one).
fn token(case: &Value) -> String {
    let subject = match case.get("subject") {
        None => Some("u1"),
        Some(Value::Null) => None,
        Some(s) => s.as_str(),
    };
    let Some(subject) = subject else {
        return CLIENT.to_owned();
    };
    let mut claims = case
        .get("claims")
        .cloned()
        .unwrap_or_else(|| json!({"org": 10}));
    claims["sub"] = json!(subject);
    claims["iat"] = json!(now());
    claims["exp"] = json!(now() + 300);
    Signer::hs256(HMAC_SECRET.as_bytes()).token(&claims)
}

fn sorted(rows: &Value) -> Vec<String> {
    let mut rows: Vec<String> = rows
        .as_array()
        .unwrap_or_else(|| panic!("not rows: {rows}"))
        .iter()
        .map(Value::to_string)
        .collect();
    rows.sort();
    rows
}

/// Rows as text, the way the simple query protocol carries them.
fn as_text(rows: &Value) -> Vec<Vec<Option<String>>> {
    let mut rows: Vec<Vec<Option<String>>> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// The outcome of one statement: `Ok(rows as JSON arrays)` or `Err(code)`; `raw` is every
/// byte the client saw, for the leak check.
struct Outcome {
    result: Result<Value, String>,
    raw: String,
}

async fn run_http(gw: &TestGateway, token: &str, case: &Value) -> Outcome {
    let body =
        json!({"sql": case["sql"], "params": case.get("params").cloned().unwrap_or(json!([]))});
    let (status, reply) = gw.post_as(token, "/query/raw", body).await;
    let raw = reply.to_string();
    let result = if status == 200 {
        Ok(reply["result"]["rows"].clone())
    } else {
        Err(reply["code"].as_str().unwrap_or("?").to_owned())
    };
    Outcome { result, raw }
}

async fn run_ws(gw: &TestGateway, token: &str, case: &Value) -> Outcome {
    let request = json!({"action": "query", "sql": case["sql"],
                         "params": case.get("params").cloned().unwrap_or(json!([]))});
    let reply = super::ws_ask(gw, token, request).await;
    let raw = reply.to_string();
    let result = match &reply {
        Value::Array(rows) => Ok(Value::Array(
            rows.iter()
                .map(|r| Value::Array(r.as_object().unwrap().values().cloned().collect()))
                .collect(),
        )),
        _ => Err(reply["code"].as_str().unwrap_or("?").to_owned()),
    };
    Outcome { result, raw }
}

async fn run_pg(gw: &TestGateway, token: &str, case: &Value) -> Outcome {
    use tokio_postgres::SimpleQueryMessage;
    let pg = gw.pg_client_as(token).await;
    match pg.simple_query(case["sql"].as_str().unwrap()).await {
        Ok(messages) => {
            let rows: Vec<Value> = messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => Some(Value::Array(
                        (0..row.len())
                            .map(|i| row.get(i).map_or(Value::Null, |s| json!(s)))
                            .collect(),
                    )),
                    _ => None,
                })
                .collect();
            let raw = Value::Array(rows.clone()).to_string();
            Outcome {
                result: Ok(Value::Array(rows)),
                raw,
            }
        }
        Err(e) => Outcome {
            raw: format!("{e:?}"),
            result: Err(super::pg_code(&e)),
        },
    }
}

async fn check_after(gw: &TestGateway, case: &Value) {
    let Some(check) = case.get("check") else {
        return;
    };
    let (status, reply) = gw
        .post_as(ADMIN, "/query/raw", json!({"sql": check["sql"]}))
        .await;
    assert_eq!(status, 200, "{}: check: {reply}", case["name"]);
    assert_eq!(
        sorted(&reply["result"]["rows"]),
        sorted(&check["rows"]),
        "{}: the check after the statement",
        case["name"]
    );
}

async fn run_case(frontend: Frontend, case: &Value, corpus: &Value, tally: &mut Tally) {
    let sql = case["sql"].as_str().unwrap();
    let has_params = case.get("params").is_some_and(|p| p != &json!([]));
    if uses_attached(sql) || (frontend == Frontend::Pgwire && has_params) {
        tally.not_applicable += 1;
        return;
    }
    let gw = super::jwt_gateway().await;
    prepare(&gw, corpus).await;
    let token = token(case);
    let outcome = match frontend {
        Frontend::Http => run_http(&gw, &token, case).await,
        Frontend::WebSocket => run_ws(&gw, &token, case).await,
        Frontend::Pgwire => run_pg(&gw, &token, case).await,
    };
    let name = &case["name"];
    let marker = corpus["leak_marker"].as_str().unwrap();
    assert!(
        !outcome.raw.contains(marker),
        "{frontend:?} {name}: leaked {}",
        outcome.raw
    );
    tally.run += 1;
    match (case["expect"].as_str().unwrap(), &outcome.result) {
        ("denied", Err(code)) => {
            // Refused by row-level security (42501), or by the database itself before it
            // ran: SQLite refuses a write into a view (42809) before any authorizer sees it,
            // and the wire's translation refuses some SQLite-only syntax.
            if code == "42501" {
                tally.denied += 1;
            } else {
                assert!(
                    frontend == Frontend::Pgwire || code == "42809",
                    "{frontend:?} {name}: {}",
                    outcome.raw
                );
                tally.refused_otherwise += 1;
            }
        }
        ("denied", Ok(rows)) => panic!("{frontend:?} {name}: ran, returning {rows}"),
        ("rows", Ok(rows)) => {
            if frontend == Frontend::Pgwire {
                assert_eq!(as_text(rows), as_text(&case["rows"]), "{frontend:?} {name}");
            } else {
                assert_eq!(sorted(rows), sorted(&case["rows"]), "{frontend:?} {name}");
            }
            tally.exact += 1;
            check_after(&gw, case).await;
        }
        ("rows", Err(code)) => {
            // A statement the wire's PostgreSQL translation refuses leaks nothing; on the
            // gateway's own dialect it must run — except a lone `BEGIN`, which HTTP and
            // WebSocket refuse with 25001 whoever sends it (they have no session to hold it).
            let lone_begin = sql.eq_ignore_ascii_case("begin") && code == "25001";
            assert!(
                frontend == Frontend::Pgwire || lone_begin,
                "{frontend:?} {name}: refused with {code}"
            );
            tally.refused_otherwise += 1;
        }
        // Any refusal will do (the statement is malformed for SQLite, say); it must not run.
        ("error", Err(_)) => tally.denied += 1,
        ("error", Ok(rows)) => panic!("{frontend:?} {name}: ran, returning {rows}"),
        (other, _) => panic!("{name}: unknown expectation {other}"),
    }
    gw.stop().await;
}

#[allow(clippy::print_stderr)]
async fn run_corpus(frontend: Frontend) {
    let corpus = corpus();
    let cases = corpus["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let mut tally = Tally::default();
    for case in cases {
        run_case(frontend, case, &corpus, &mut tally).await;
    }
    eprintln!("rls corpus on {frontend:?}: {tally:?}");
    assert_eq!(
        tally.run + tally.not_applicable,
        cases.len(),
        "{frontend:?}: every case accounted for"
    );
}

#[tokio::test]
async fn corpus_on_http() {
    run_corpus(Frontend::Http).await;
}

#[tokio::test]
async fn corpus_on_websocket() {
    run_corpus(Frontend::WebSocket).await;
}

#[tokio::test]
async fn corpus_on_pgwire() {
    run_corpus(Frontend::Pgwire).await;
}
