//! The StarbaseDB README's `/query` examples and the shapes they return, plus binding rules.

use serde_json::json;

use crate::common::TestGateway;

async fn seed(gw: &TestGateway) {
    let created = gw
        .query(
            "CREATE TABLE IF NOT EXISTS artist(artistid INTEGER PRIMARY KEY, artistname TEXT);",
            json!(null),
        )
        .await;
    assert_eq!(created, json!([]));
    let inserted = gw
        .query(
            "INSERT INTO artist (artistid, artistname) VALUES (123, 'Alice'), (456, 'Bob'), (789, 'Charlie');",
            json!(null),
        )
        .await;
    assert_eq!(inserted, json!([]));
}

#[tokio::test]
async fn readme_examples_return_documented_shapes() {
    let gw = TestGateway::start().await;
    seed(&gw).await;

    let rows = gw
        .query("SELECT * FROM artist WHERE artistid=$1;", json!([123]))
        .await;
    assert_eq!(rows, json!([{"artistid": 123, "artistname": "Alice"}]));

    let (status, body) = gw
        .post(
            "/query",
            json!({"transaction": [
                {"sql": "SELECT * FROM artist WHERE artistid=$1;", "params": [123]},
                {"sql": "SELECT * FROM artist;", "params": []}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"result": [
            [{"artistid": 123, "artistname": "Alice"}],
            [{"artistid": 123, "artistname": "Alice"},
             {"artistid": 456, "artistname": "Bob"},
             {"artistid": 789, "artistname": "Charlie"}]
        ]})
    );

    let (status, body) = gw
        .post(
            "/query/raw",
            json!({"sql": "SELECT * FROM artist;", "params": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"result": {
            "columns": ["artistid", "artistname"],
            "rows": [[123, "Alice"], [456, "Bob"], [789, "Charlie"]],
            "meta": {"rows_read": 3, "rows_written": 0}
        }})
    );
    gw.stop().await;
}

#[tokio::test]
async fn raw_reports_real_columns_and_meta() {
    let gw = TestGateway::start().await;
    seed(&gw).await;
    // Zero rows still carry the columns; duplicate names are kept.
    let (status, body) = gw
        .post(
            "/query/raw",
            json!({"sql": "SELECT artistid AS a, artistname AS a FROM artist WHERE 0"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["columns"], json!(["a", "a"]));
    assert_eq!(body["result"]["rows"], json!([]));
    // Writes report rows_written.
    let (_, body) = gw
        .post("/query/raw", json!({"sql": "UPDATE artist SET artistname = upper(artistname) WHERE artistid > ?", "params": [200]}))
        .await;
    assert_eq!(
        body["result"]["meta"],
        json!({"rows_read": 0, "rows_written": 2})
    );
    let (_, body) = gw
        .post(
            "/query/raw",
            json!({"transaction": [
                {"sql": "DELETE FROM artist WHERE artistid = 789"},
                {"sql": "SELECT count(*) AS n FROM artist"}
            ]}),
        )
        .await;
    assert_eq!(body["result"][0]["meta"]["rows_written"], 1);
    assert_eq!(body["result"][1]["rows"], json!([[2]]));
    gw.stop().await;
}

#[tokio::test]
async fn parameters_bind_as_meant() {
    let gw = TestGateway::start().await;
    assert_eq!(
        gw.query("SELECT $2 AS a, $1 AS b", json!([1, 2])).await,
        json!([{"a": 2, "b": 1}])
    );
    assert_eq!(
        gw.query("SELECT $1 AS a, $1 + 1 AS b", json!([41])).await,
        json!([{"a": 41, "b": 42}])
    );
    assert_eq!(
        gw.query("SELECT ? AS a, ? AS b, ?1 AS c", json!([1, 2]))
            .await,
        json!([{"a": 1, "b": 2, "c": 1}])
    );
    assert_eq!(
        gw.query(
            "SELECT :x AS x, @y AS y, $z AS z",
            json!({"x": "a", "y": "b", "z": "c"})
        )
        .await,
        json!([{"x": "a", "y": "b", "z": "c"}])
    );
    let big = 9_007_199_254_740_993_i64;
    assert_eq!(
        gw.query("SELECT ? AS n", json!([big])).await,
        json!([{"n": big}])
    );
    assert_eq!(
        gw.query(
            "SELECT ? AS s, ? AS n, ? AS f",
            json!(["héllo ☃", null, 1.5])
        )
        .await,
        json!([{"s": "héllo ☃", "n": null, "f": 1.5}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn blobs_round_trip_in_the_documented_encoding() {
    let gw = TestGateway::start().await;
    gw.query(
        "CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB)",
        json!([]),
    )
    .await;
    let blob = json!({"$blob": "AAEC/f7/aGk="});
    gw.query("INSERT INTO files (data) VALUES (?)", json!([blob]))
        .await;
    let rows = gw
        .query(
            "SELECT data, length(data) AS len, hex(data) AS hex FROM files",
            json!([]),
        )
        .await;
    assert_eq!(
        rows,
        json!([{"data": blob, "len": 8, "hex": "000102FDFEFF6869"}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn transaction_is_all_or_nothing() {
    let gw = TestGateway::start().await;
    gw.query(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
        json!([]),
    )
    .await;
    let (status, body) = gw
        .post(
            "/query",
            json!({"transaction": [
                {"sql": "INSERT INTO t (id, v) VALUES (1, 'first')"},
                {"sql": "INSERT INTO t (id, v) VALUES (2, NULL)"}
            ]}),
        )
        .await;
    crate::common::assert_error(status, &body, 400, "23502", "not null");
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM t", json!([])).await,
        json!([{"n": 0}])
    );
    // A successful transaction commits every step.
    let (status, _) = gw
        .post(
            "/query",
            json!({"transaction": [
                {"sql": "INSERT INTO t (id, v) VALUES (1, 'a')"},
                {"sql": "INSERT INTO t (id, v) VALUES (2, 'b')"}
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        gw.query("SELECT count(*) AS n FROM t", json!([])).await,
        json!([{"n": 2}])
    );
    gw.stop().await;
}

#[tokio::test]
async fn client_token_can_query() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .post_as(
            crate::common::CLIENT,
            "/query",
            json!({"sql": "SELECT 1 AS one"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"result": [{"one": 1}]}));
    gw.stop().await;
}
