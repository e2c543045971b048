//! `ENABLE_ALLOWLIST`: clients run only statements whose shape an entry holds.

use serde_json::json;

use super::{admin, client, gateway, pg_code, ws_ask};
use crate::common::{ADMIN, CLIENT};

#[tokio::test]
async fn clients_run_only_allowed_shapes_on_every_frontend_and_rejections_are_recorded() {
    let gw = gateway(true, false).await;
    admin(&gw, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").await;
    admin(&gw, "INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
    // StarbaseDB's way: SQL on its table through /query (source must say `internal`).
    admin(
        &gw,
        "INSERT INTO tmp_allowlist_queries (sql_statement, source) \
         VALUES ('SELECT v FROM t WHERE id = ?', 'internal')",
    )
    .await;
    // Whitespace, case, trailing semicolons and placeholder spelling do not matter.
    for sql in [
        "SELECT v FROM t WHERE id = ?",
        "select v\n  from T where ID = ?1;",
        "SELECT v FROM t WHERE id = :id",
    ] {
        let params = if sql.contains(":id") {
            json!({"id": 2})
        } else {
            json!([2])
        };
        let (status, body) = client(&gw, sql, params).await;
        assert_eq!(
            (status, body["result"].clone()),
            (200, json!([{"v": "b"}])),
            "{sql}"
        );
    }
    // Anything else is 403 / 42501, and the admin is never checked.
    for sql in [
        "SELECT * FROM t",
        "SELECT v FROM t WHERE id = 1",
        "DELETE FROM t",
    ] {
        let (status, body) = client(&gw, sql, json!([])).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("42501")),
            "{sql}: {body}"
        );
    }
    assert_eq!(
        admin(&gw, "SELECT count(*) AS n FROM t").await,
        json!([{"n": 2}])
    );
    // WebSocket and pgwire ask the same allowlist.
    let reply = ws_ask(
        &gw,
        CLIENT,
        json!({"action": "query", "sql": "SELECT * FROM t"}),
    )
    .await;
    assert_eq!(reply["code"], "42501", "{reply}");
    let reply = ws_ask(
        &gw,
        CLIENT,
        json!({"action": "query", "sql": "SELECT v FROM t WHERE id = ?", "params": [1]}),
    )
    .await;
    assert_eq!(reply, json!([{"v": "a"}]));
    let pg = gw.pg_client_as(CLIENT).await;
    let err = pg.simple_query("SELECT * FROM t").await.unwrap_err();
    assert_eq!(pg_code(&err), "42501");
    // Transaction control needs no entry; the connection stays usable.
    pg.simple_query("BEGIN").await.unwrap();
    pg.simple_query("COMMIT").await.unwrap();
    let admin_pg = gw.pg_client_as(ADMIN).await;
    let rows = admin_pg.simple_query("SELECT * FROM t").await.unwrap();
    let rows = rows
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(rows, 2);
    // Every refusal was recorded, newest first.
    let response = gw
        .client
        .get(gw.url("/admin/allowlist/rejections"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let rejected: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sql_statement"].as_str().unwrap())
        .collect();
    assert!(rejected.contains(&"DELETE FROM t"), "{rejected:?}");
    assert!(rejected.len() >= 5, "{rejected:?}");
    assert_eq!(
        admin(
            &gw,
            "SELECT count(*) AS n FROM tmp_allowlist_rejections WHERE source = 'internal'"
        )
        .await[0]["n"]
            .as_i64()
            .map(|n| n >= 5),
        Some(true)
    );
    gw.stop().await;
}

#[tokio::test]
async fn statements_the_parser_cannot_read_can_still_be_allowed() {
    let gw = gateway(true, false).await;
    admin(&gw, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").await;
    for sql in [
        "PRAGMA table_info(kv)",
        "INSERT OR REPLACE INTO kv VALUES (?, ?) RETURNING *",
        "SELECT * FROM kv LIMIT ? OFFSET ?",
    ] {
        let (status, body) = gw
            .post(
                "/admin/allowlist",
                json!({"sql_statement": sql, "source": "internal"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = client(
        &gw,
        "insert or replace into kv values (:k, :v) returning *",
        json!({"k": "a", "v": "1"}),
    )
    .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!([{"k": "a", "v": "1"}]))
    );
    let (status, body) = client(&gw, "select * from kv limit ?1 offset ?2", json!([10, 0])).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client(&gw, "PRAGMA table_info( kv )", json!([])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"].as_array().map(Vec::len), Some(2));
    // An entry for another source does not open the embedded database.
    gw.post(
        "/admin/allowlist",
        json!({"sql_statement": "SELECT 1", "source": "external"}),
    )
    .await;
    assert_eq!(client(&gw, "SELECT 1", json!([])).await.0, 403);
    gw.stop().await;
}

#[tokio::test]
async fn pgwire_simple_queries_are_matched_with_their_literals() {
    let gw = gateway(true, false).await;
    admin(&gw, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)").await;
    admin(&gw, "INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
    gw.post(
        "/admin/allowlist",
        json!({"sql_statement": "SELECT v FROM t WHERE id = 1"}),
    )
    .await;
    let pg = gw.pg_client_as(CLIENT).await;
    // The same text twice (the second time a cached shape would bind `1` as a parameter).
    for _ in 0..2 {
        let rows = pg
            .simple_query("SELECT v FROM t WHERE id = 1")
            .await
            .unwrap();
        assert!(
            rows.iter()
                .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        );
    }
    // Another literal is another statement, as on HTTP.
    for _ in 0..2 {
        let err = pg
            .simple_query("SELECT v FROM t WHERE id = 2")
            .await
            .unwrap_err();
        assert_eq!(pg_code(&err), "42501");
    }
    assert_eq!(
        client(&gw, "SELECT v FROM t WHERE id = 2", json!([]))
            .await
            .0,
        403
    );
    gw.stop().await;
}
