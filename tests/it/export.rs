//! `/export/json/{table}` and `/export/csv/{table}`: streamed, complete, precisely encoded.

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway};

async fn get(gw: &TestGateway, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = gw
        .client
        .get(gw.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn seed(gw: &TestGateway) {
    gw.query(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, f REAL, b BLOB)",
        json!([]),
    )
    .await;
    gw.query(
        "INSERT INTO things VALUES (1, 'plain', 9223372036854775807, 0.5, x'00ff'), (2, 'quote \"q\", comma\nline', NULL, -1.25, NULL), (3, '', -9223372036854775808, NULL, x''), (4, 'ünïcødé ☃', 0, 1e300, NULL)",
        json!([]),
    )
    .await;
}

#[tokio::test]
async fn json_export_is_the_table_as_row_objects() {
    let gw = TestGateway::start().await;
    seed(&gw).await;
    let (status, headers, body) = get(&gw, "/export/json/things").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"things_export.json\""
    );
    let exported: Value = serde_json::from_str(&body).unwrap();
    let queried = gw.query("SELECT * FROM things", json!([])).await;
    assert_eq!(exported, queried);
    assert_eq!(exported[0]["n"], json!(9_223_372_036_854_775_807_i64));
    assert_eq!(exported[0]["b"], json!({"$blob": "AP8="}));

    gw.query("CREATE TABLE empty (a, b)", json!([])).await;
    let (status, _, body) = get(&gw, "/export/json/empty").await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, json!([]))
    );
    gw.stop().await;
}

#[tokio::test]
async fn csv_export_follows_rfc_4180() {
    let gw = TestGateway::start().await;
    seed(&gw).await;
    let (status, headers, body) = get(&gw, "/export/csv/things").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"things_export.csv\""
    );
    assert_eq!(
        body,
        "id,name,n,f,b\r\n\
         1,plain,9223372036854775807,0.5,\\x00ff\r\n\
         2,\"quote \"\"q\"\", comma\nline\",,-1.25,\r\n\
         3,\"\",-9223372036854775808,,\\x\r\n\
         4,ünïcødé ☃,0,1e+300,\r\n"
    );
    gw.query("CREATE TABLE empty (a, \"b,c\")", json!([])).await;
    let (_, _, body) = get(&gw, "/export/csv/empty").await;
    assert_eq!(body, "a,\"b,c\"\r\n", "a header row even without rows");
    gw.stop().await;
}

#[tokio::test]
async fn exports_stream_past_the_query_limits_and_refuse_unknown_tables() {
    let gw = TestGateway::start_with(|c| {
        c.max_response_rows = 100;
        c.max_response_bytes = 64 * 1024;
    })
    .await;
    gw.query(
        "CREATE TABLE big (i INTEGER PRIMARY KEY, pad TEXT)",
        json!([]),
    )
    .await;
    gw.query(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50000) INSERT INTO big SELECT x, printf('%040d', x) FROM c",
        json!([]),
    )
    .await;
    let (status, _, body) = get(&gw, "/export/json/big").await;
    assert_eq!(status, 200);
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(rows.len(), 50_000);
    assert_eq!(rows[49_999]["i"], 50_000);
    let (_, _, body) = get(&gw, "/export/csv/big").await;
    assert_eq!(body.lines().count(), 50_001);

    for path in [
        "/export/json/nope",
        "/export/csv/nope",
        "/export/csv/sqlite_master",
    ] {
        let (status, _, body) = get(&gw, path).await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("42P01")),
            "{path}"
        );
    }
    gw.stop().await;
}
