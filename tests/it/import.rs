//! `POST /import/csv/{table}`: streamed, all or nothing, and the inverse of the CSV export.

use serde_json::{Value, json};

use crate::common::{ADMIN, TestGateway};

const TABLE: &str = "(id INTEGER PRIMARY KEY, name TEXT, n INTEGER, f REAL, b BLOB, anything)";

async fn post_csv(gw: &TestGateway, table: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url(&format!("/import/csv/{table}")))
        .bearer_auth(ADMIN)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn export_csv(gw: &TestGateway, table: &str) -> String {
    let response = gw
        .client
        .get(gw.url(&format!("/export/csv/{table}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn csv_export_then_import_restores_identical_rows() {
    let gw = TestGateway::start().await;
    gw.query(&format!("CREATE TABLE src {TABLE}"), json!([]))
        .await;
    gw.query(&format!("CREATE TABLE dst {TABLE}"), json!([]))
        .await;
    gw.query(
        "INSERT INTO src VALUES
          (1, 'plain', 9223372036854775807, 0.1, x'00ff', 5),
          (2, '', NULL, -1e300, x'', '5'),
          (3, 'quote \"q\", comma', -9223372036854775808, NULL, NULL, 2.5),
          (4, 'new
line ☃', 0, 1.0, NULL, '\\x00'),
          (5, NULL, 42, 3.0e-5, x'deadbeef', NULL)",
        json!([]),
    )
    .await;
    let csv = export_csv(&gw, "src").await;
    let (status, body) = post_csv(&gw, "dst", csv.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["message"],
        "Imported 5 out of 5 records successfully. 0 records failed."
    );
    let typed = "SELECT id, name, n, f, b, anything, typeof(anything) AS t FROM {} ORDER BY id";
    assert_eq!(
        gw.query(&typed.replace("{}", "dst"), json!([])).await,
        gw.query(&typed.replace("{}", "src"), json!([])).await
    );
    assert_eq!(export_csv(&gw, "dst").await, csv);
    gw.stop().await;
}

#[tokio::test]
async fn large_imports_stream_past_the_request_limit() {
    let gw = TestGateway::start_with(|c| c.max_request_bytes = 64 * 1024).await;
    gw.query(
        "CREATE TABLE big (i INTEGER PRIMARY KEY, s TEXT)",
        json!([]),
    )
    .await;
    let chunks: Vec<Result<String, std::io::Error>> = std::iter::once(Ok("i,s\r\n".to_owned()))
        .chain((0..100).map(|c| {
            Ok((0..1000)
                .map(|r| format!("{},row {}\r\n", c * 1000 + r, c * 1000 + r))
                .collect::<String>())
        }))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (status, body) = post_csv(&gw, "big", body).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        gw.query("SELECT count(*) AS n, max(i) AS top FROM big", json!([]))
            .await,
        json!([{"n": 100_000, "top": 99_999}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn other_forms_multipart_and_json_with_column_mapping() {
    let gw = TestGateway::start().await;
    gw.query(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, full_name TEXT)",
        json!([]),
    )
    .await;
    let form = reqwest::multipart::Form::new()
        .text("columnMapping", r#"{"name": "full_name"}"#)
        .part(
            "file",
            reqwest::multipart::Part::text("id,name\n1,Ann\n2,\"Bo, Jr.\"\n").file_name("p.csv"),
        );
    let response = gw
        .client
        .post(gw.url("/import/csv/people"))
        .bearer_auth(ADMIN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{:?}",
        response.text().await
    );
    let (status, body) = gw
        .post(
            "/import/csv/people",
            json!({"data": "id,name\n3,Cy\n", "columnMapping": {"name": "full_name"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        gw.query("SELECT full_name FROM people ORDER BY id", json!([]))
            .await,
        json!([{"full_name": "Ann"}, {"full_name": "Bo, Jr."}, {"full_name": "Cy"}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn bad_csv_is_a_precise_error_and_commits_nothing() {
    let gw = TestGateway::start().await;
    gw.query(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
        json!([]),
    )
    .await;
    gw.query("INSERT INTO t VALUES (1, 'kept')", json!([]))
        .await;
    let cases: Vec<(&str, &str, u16, &str, &str)> = vec![
        ("t", "id,v\n2,a\n3\n", 400, "22P02", "record 2 has 1 fields"),
        ("t", "id,v\n2,a\n3,b\"c\n", 400, "22P02", "line 3"),
        ("t", "id,v\n2,\"open\n", 400, "22P02", "unterminated"),
        ("t", "id,nope\n2,a\n", 400, "42703", "\"nope\""),
        ("t", "id,v\n2,a\n1,dup\n", 400, "23505", "unique"),
        ("t", "id,v\n2,a\n3,\n", 400, "23502", "not null"),
        ("t", "", 400, "22023", "header"),
        ("nope", "a\n1\n", 404, "42P01", "nope"),
    ];
    for (table, csv, status, code, fragment) in cases {
        let (got_status, body) = post_csv(&gw, table, csv.to_owned()).await;
        assert_eq!(
            (got_status, body["code"].as_str()),
            (status, Some(code)),
            "{csv:?}: {body}"
        );
        let message = body["error"].as_str().unwrap().to_lowercase();
        assert!(
            message.contains(&fragment.to_lowercase()),
            "{csv:?}: {body}"
        );
        assert_eq!(
            gw.query("SELECT id, v FROM t", json!([])).await,
            json!([{"id": 1, "v": "kept"}]),
            "{csv:?} committed something"
        );
    }
    let response = gw
        .client
        .post(gw.url("/import/csv/t"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/xml")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    gw.stop().await;
}

async fn post_json_body(gw: &TestGateway, table: &str, body: String) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url(&format!("/import/json/{table}")))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn json_export_then_import_restores_identical_rows() {
    let gw = TestGateway::start().await;
    gw.query(&format!("CREATE TABLE src {TABLE}"), json!([]))
        .await;
    gw.query(&format!("CREATE TABLE dst {TABLE}"), json!([]))
        .await;
    gw.query(
        "INSERT INTO src VALUES (1, 'plain', 9223372036854775807, 0.1, x'00ff', 5),
          (2, '', NULL, -1e300, x'', '5'), (3, 'q \"x\", y
z ☃', -1, NULL, NULL, 2.5)",
        json!([]),
    )
    .await;
    let response = gw
        .client
        .get(gw.url("/export/json/src"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let exported = response.text().await.unwrap();
    let (status, body) = post_json_body(&gw, "dst", format!("{{\"data\": {exported}}}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["message"],
        "Imported 3 out of 3 records successfully. 0 records failed."
    );
    let typed = "SELECT id, name, n, f, b, anything, typeof(anything) AS t FROM {} ORDER BY id";
    assert_eq!(
        gw.query(&typed.replace("{}", "dst"), json!([])).await,
        gw.query(&typed.replace("{}", "src"), json!([])).await
    );
    gw.stop().await;
}

#[tokio::test]
async fn json_import_mapping_forms_and_errors() {
    let gw = TestGateway::start().await;
    gw.query(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL)",
        json!([]),
    )
    .await;
    // columnMapping after data is applied too (the rows wait for it).
    let (status, body) = gw
        .post(
            "/import/json/p",
            json!({"data": [{"id": 1, "name": "Ann"}], "columnMapping": {"name": "full_name"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let doc = r#"{"columnMapping": {"n": "full_name"}, "data": [{"id": 2, "n": "Bo"}]}"#;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(doc).file_name("p.json"),
    );
    let response = gw
        .client
        .post(gw.url("/import/json/p"))
        .bearer_auth(ADMIN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = gw.post("/import/json/p", json!({"data": []})).await;
    assert_eq!(
        (status, body["result"]["message"].as_str()),
        (
            200,
            Some("Imported 0 out of 0 records successfully. 0 records failed.")
        )
    );
    let cases: Vec<(&str, &str, &str)> = vec![
        ("[1, 2]", "22023", "object"),
        (r#"{"rows": []}"#, "22023", "unexpected key"),
        (r#"{"data": [1]}"#, "22023", "must be an object"),
        (r#"{"data": [{"id": 3, "nope": 1}]}"#, "42703", "\"nope\""),
        (
            r#"{"data": [{"id": 3, "full_name": "x"}, {"id": 3, "full_name": "y"}]}"#,
            "23505",
            "unique",
        ),
        (
            r#"{"data": [{"id": 3, "full_name": "x"}, {"id": 4}]}"#,
            "23502",
            "not null",
        ),
        (
            r#"{"data": [{"id": 3, "full_name": "x"}"#,
            "22P02",
            "ended early",
        ),
    ];
    for (doc, code, fragment) in cases {
        let (status, body) = post_json_body(&gw, "p", doc.to_owned()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{doc}: {body}"
        );
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(fragment),
            "{doc}: {body}"
        );
    }
    assert_eq!(
        gw.query("SELECT id, full_name FROM p ORDER BY id", json!([]))
            .await,
        json!([{"id": 1, "full_name": "Ann"}, {"id": 2, "full_name": "Bo"}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn json_import_streams_past_the_request_limit_without_a_mapping() {
    let gw = TestGateway::start_with(|c| c.max_request_bytes = 16 * 1024).await;
    gw.query(
        "CREATE TABLE big (i INTEGER PRIMARY KEY, s TEXT)",
        json!([]),
    )
    .await;
    let rows: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"i": {i}, "s": "row {i}"}}"#))
        .collect();
    let doc = format!(r#"{{"data": [{}]}}"#, rows.join(","));
    let (status, body) = post_json_body(&gw, "big", doc).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM big", json!([])).await,
        json!([{"n": 20_000}])
    );
    // A mapping after that many rows is refused, and nothing of that import is committed.
    let rows: Vec<String> = (20_000..40_000)
        .map(|i| format!(r#"{{"i": {i}, "s": "row {i}"}}"#))
        .collect();
    let doc = format!(
        r#"{{"data": [{}], "columnMapping": {{"x": "s"}}}}"#,
        rows.join(",")
    );
    let (status, body) = post_json_body(&gw, "big", doc).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("22023")),
        "{body}"
    );
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM big", json!([])).await,
        json!([{"n": 20_000}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn the_request_limit_applies_per_csv_record_not_per_upload() {
    let gw = TestGateway::start_with(|c| c.max_request_bytes = 1024).await;
    gw.query("CREATE TABLE t (i INTEGER PRIMARY KEY, s TEXT)", json!([]))
        .await;
    let csv: String = std::iter::once("i,s\n".to_owned())
        .chain((0..5000).map(|i| format!("{i},short\n")))
        .collect();
    let (status, body) = post_csv(&gw, "t", csv).await;
    assert_eq!(status, 200, "{body}");
    // A record that keeps growing across chunks past the limit is refused.
    let long = format!("i,s\n9999,{}\n", "x".repeat(4096));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = long
        .as_bytes()
        .chunks(512)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let (status, body) = post_csv(
        &gw,
        "t",
        reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("22023")),
        "{body}"
    );
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM t", json!([])).await,
        json!([{"n": 5000}])
    );
    gw.stop().await;
}
