//! How external values look in `/query` JSON: every common PostgreSQL and MySQL type, end to
//! end through HTTP (the mapping the README documents).

use serde_json::{Value, json};
use starbase::config::SourceKind;

use crate::common::external::ExternalDb;
use crate::common::{ADMIN, TestGateway};

async fn gateway(kind: SourceKind) -> Option<(ExternalDb, TestGateway)> {
    let db = ExternalDb::start(kind).await?;
    let source = db.source("external");
    let gw = TestGateway::start_with(|c| c.sources = vec![source]).await;
    Some((db, gw))
}

async fn query(gw: &TestGateway, sql: &str, params: Value) -> Value {
    let response = gw
        .client
        .post(gw.url("/query?source=external"))
        .bearer_auth(ADMIN)
        .json(&json!({"sql": sql, "params": params}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{sql}: {body}");
    body["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_types_as_json() {
    let Some((db, gw)) = gateway(SourceKind::Postgres).await else {
        return;
    };
    let rows = query(
        &gw,
        "SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 1.5::float8 AS f8, \
         1.25::float4 AS f4, 'NaN'::float8 AS nan, 12345678901234567890.123::numeric AS num, \
         true AS b, 'héllo'::text AS t, 'abc'::varchar(5) AS vc, '\\xdeadbeef'::bytea AS bin, \
         '{\"a\": [1, 2]}'::json AS j, '{\"b\": null}'::jsonb AS jb, '2024-02-29'::date AS d, \
         '2024-02-29 13:14:15.5'::timestamp AS ts, \
         '2024-02-29 13:14:15+02'::timestamptz AS tstz, '13:14:15'::time AS tm, \
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, ARRAY[1, 2, 3] AS arr, \
         ARRAY['x', NULL] AS tarr, NULL::int AS nul",
        json!([]),
    )
    .await;
    assert_eq!(
        rows,
        json!([{
            "i2": 1, "i4": 2, "i8": 9_007_199_254_740_993_i64, "f8": 1.5, "f4": 1.25, "nan": "NaN",
            "num": "12345678901234567890.123", "b": true, "t": "héllo", "vc": "abc",
            "bin": {"$blob": "3q2+7w=="}, "j": {"a": [1, 2]}, "jb": {"b": null},
            "d": "2024-02-29", "ts": "2024-02-29T13:14:15.5", "tstz": "2024-02-29T11:14:15Z",
            "tm": "13:14:15", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "arr": [1, 2, 3], "tarr": ["x", null], "nul": null,
        }])
    );

    // Parameters of every kind round-trip through a table.
    query(
        &gw,
        "CREATE TABLE v (id int PRIMARY KEY, b boolean, n numeric(6,2), bin bytea, j jsonb, \
         ts timestamptz, d date, u uuid)",
        json!([]),
    )
    .await;
    query(
        &gw,
        "INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        json!([1, false, "1.10", {"$blob": "AAEC"}, {"k": [true]}, "2024-01-01T00:00:00Z",
               "2024-03-01", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]),
    )
    .await;
    let rows = query(&gw, "SELECT * FROM v", json!([])).await;
    assert_eq!(
        rows,
        json!([{"id": 1, "b": false, "n": "1.10", "bin": {"$blob": "AAEC"}, "j": {"k": [true]},
                "ts": "2024-01-01T00:00:00Z", "d": "2024-03-01",
                "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}])
    );
    gw.stop().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_types_as_json() {
    let Some((db, gw)) = gateway(SourceKind::MySql).await else {
        return;
    };
    query(
        &gw,
        "CREATE TABLE v (id INT PRIMARY KEY, flag TINYINT(1), small SMALLINT, big BIGINT, \
         ubig BIGINT UNSIGNED, dec_ DECIMAL(12,3), dbl DOUBLE, flt FLOAT, txt VARCHAR(20), \
         blb BLOB, js JSON, d DATE, dt DATETIME(6), ts TIMESTAMP NULL, tm TIME, yr YEAR, \
         en ENUM('a', 'b'), nul INT)",
        json!([]),
    )
    .await;
    query(
        &gw,
        "INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18)",
        json!([1, true, -5, 9_007_199_254_740_993_i64, "18446744073709551615", "12.345", 1.5,
               0.5, "héllo", {"$blob": "3q2+7w=="}, {"a": [1, 2]}, "2024-02-29",
               "2024-02-29 13:14:15.5", "2024-02-29 13:14:15", "13:14:15", 2024, "b", null]),
    )
    .await;
    let mut rows = query(&gw, "SELECT * FROM v", json!([])).await;
    // MariaDB's JSON is LONGTEXT: it reads back as the document's text; MySQL's as JSON.
    let js = rows[0]["js"].take();
    let js = match js {
        Value::String(text) => serde_json::from_str(&text).unwrap(),
        other => other,
    };
    assert_eq!(js, json!({"a": [1, 2]}));
    assert_eq!(
        rows,
        json!([{
            "id": 1, "flag": true, "small": -5, "big": 9_007_199_254_740_993_i64,
            "ubig": "18446744073709551615", "dec_": "12.345", "dbl": 1.5, "flt": 0.5,
            "txt": "héllo", "blb": {"$blob": "3q2+7w=="}, "js": null, "d": "2024-02-29",
            "dt": "2024-02-29T13:14:15.5", "ts": "2024-02-29T13:14:15", "tm": "13:14:15",
            "yr": 2024, "en": "b", "nul": null,
        }])
    );
    let rows = query(
        &gw,
        "SELECT 1 = 1 AS t, CAST(1.5 AS DECIMAL(4,2)) AS d",
        json!([]),
    )
    .await;
    assert_eq!(rows, json!([{"t": 1, "d": "1.50"}]));
    gw.stop().await;
    db.finish().await;
}
