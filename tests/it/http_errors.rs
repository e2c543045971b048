//! Bad input on `/query`: a precise JSON error with a SQLSTATE, the server keeps serving and
//! committed data stays intact.

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway, assert_error};

async fn raw_post(
    gw: &TestGateway,
    content_type: Option<&str>,
    token: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = gw.client.post(gw.url("/query")).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

/// One bad request: name, content type, token, body, expected status, SQLSTATE, message fragment.
type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
    &'static str,
);

async fn assert_intact(gw: &TestGateway) {
    let rows = gw
        .query("SELECT id, v FROM kept ORDER BY id", json!([]))
        .await;
    assert_eq!(rows, json!([{"id": 1, "v": "committed"}]));
}

#[tokio::test]
async fn every_bad_input_gets_a_precise_error_and_loses_nothing() {
    let gw = TestGateway::start_with(|c| c.max_request_bytes = 64 * 1024).await;
    gw.query(
        "CREATE TABLE kept (id INTEGER PRIMARY KEY, v TEXT)",
        json!([]),
    )
    .await;
    gw.query("INSERT INTO kept VALUES (1, 'committed')", json!([]))
        .await;

    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            json_ct,
            Some(ADMIN),
            b"{\"sql\": ".to_vec(),
            400,
            "22P02",
            "malformed JSON",
        ),
        (
            "wrong content type",
            Some("text/plain"),
            Some(ADMIN),
            br#"{"sql":"SELECT 1"}"#.to_vec(),
            415,
            "08P01",
            "application/json",
        ),
        (
            "no content type",
            None,
            Some(ADMIN),
            br#"{"sql":"SELECT 1"}"#.to_vec(),
            415,
            "08P01",
            "application/json",
        ),
        (
            "missing sql",
            json_ct,
            Some(ADMIN),
            br#"{"params":[]}"#.to_vec(),
            400,
            "22023",
            "\"sql\"",
        ),
        (
            "blank sql",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"   "}"#.to_vec(),
            400,
            "22023",
            "\"sql\"",
        ),
        (
            "sql not a string",
            json_ct,
            Some(ADMIN),
            br#"{"sql":42}"#.to_vec(),
            400,
            "22023",
            "\"sql\"",
        ),
        (
            "params wrong type",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELECT 1","params":"x"}"#.to_vec(),
            400,
            "22023",
            "\"params\"",
        ),
        (
            "params number",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELECT 1","params":5}"#.to_vec(),
            400,
            "22023",
            "\"params\"",
        ),
        (
            "body not an object",
            json_ct,
            Some(ADMIN),
            b"[1,2]".to_vec(),
            400,
            "22023",
            "object",
        ),
        (
            "empty transaction",
            json_ct,
            Some(ADMIN),
            br#"{"transaction":[]}"#.to_vec(),
            400,
            "22023",
            "non-empty array",
        ),
        (
            "bad transaction item",
            json_ct,
            Some(ADMIN),
            br#"{"transaction":[{"sql":"SELECT 1"},{"sql":""}]}"#.to_vec(),
            400,
            "22023",
            "item 2",
        ),
        (
            "syntax error",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELEC 1"}"#.to_vec(),
            400,
            "42601",
            "syntax error",
        ),
        (
            "unknown table",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELECT * FROM nope"}"#.to_vec(),
            400,
            "42P01",
            "no such table",
        ),
        (
            "unknown column",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELECT nope FROM kept"}"#.to_vec(),
            400,
            "42703",
            "no such column",
        ),
        (
            "too few params",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELECT $1, $2","params":[1]}"#.to_vec(),
            400,
            "22023",
            "expects 2 parameters",
        ),
        (
            "too many params",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"SELECT $1","params":[1,2]}"#.to_vec(),
            400,
            "22023",
            "expects 1 parameter",
        ),
        (
            "unique violation",
            json_ct,
            Some(ADMIN),
            br#"{"sql":"INSERT INTO kept VALUES (1, 'dup')"}"#.to_vec(),
            400,
            "23505",
            "unique",
        ),
        (
            "missing token",
            json_ct,
            None,
            br#"{"sql":"SELECT 1"}"#.to_vec(),
            401,
            "28000",
            "missing bearer token",
        ),
        (
            "wrong token",
            json_ct,
            Some("ABC123"),
            br#"{"sql":"SELECT 1"}"#.to_vec(),
            401,
            "28P01",
            "invalid token",
        ),
        (
            "oversized body",
            json_ct,
            Some(ADMIN),
            format!(r#"{{"sql":"SELECT '{}'"}}"#, "x".repeat(70 * 1024)).into_bytes(),
            413,
            "54000",
            "exceeds the maximum",
        ),
    ];
    for (name, ct, token, body, status, code, fragment) in cases {
        let (got_status, got) = raw_post(&gw, ct, token, body).await;
        assert_eq!(got_status, status, "{name}: {got}");
        assert_eq!(got["code"], code, "{name}: {got}");
        assert_error(got_status, &got, status, code, fragment);
        assert_intact(&gw).await;
    }
    gw.stop().await;
}

#[tokio::test]
async fn oversized_chunked_body_is_413() {
    let gw = TestGateway::start_with(|c| c.max_request_bytes = 1024).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 64])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = gw
        .client
        .post(gw.url("/query"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "54000");
    assert_eq!(
        gw.query("SELECT 1 AS ok", json!([])).await,
        json!([{"ok": 1}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn failed_multi_statement_text_commits_nothing() {
    let gw = TestGateway::start().await;
    gw.query("CREATE TABLE m (id INTEGER PRIMARY KEY)", json!([]))
        .await;
    let (status, body) = gw
        .post(
            "/query",
            json!({"sql": "INSERT INTO m VALUES (1); INSERT INTO m VALUES (1);"}),
        )
        .await;
    assert_error(status, &body, 400, "23505", "unique");
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM m", json!([])).await,
        json!([{"n": 0}])
    );
    // A dangling BEGIN is rolled back and does not lock the writer.
    let (status, body) = gw
        .post("/query", json!({"sql": "BEGIN; INSERT INTO m VALUES (5)"}))
        .await;
    assert_error(status, &body, 400, "25001", "left open");
    gw.query("INSERT INTO m VALUES (6)", json!([])).await;
    assert_eq!(
        gw.query("SELECT id FROM m", json!([])).await,
        json!([{"id": 6}])
    );
    gw.stop().await;
}
