//! Row-level security on external PostgreSQL and MySQL sources: the same rewrite, and since
//! no authorizer watches those servers, only their base tables may be read.

use serde_json::{Value, json};
use starbase::config::SourceKind;

use crate::common::external::{ExternalDb, post_on, query_on};
use crate::common::{CLIENT, TestGateway};

crate::common::external::on_both!(
    policies_filter_external_sources_and_views_are_refused,
    the_allowlist_holds_on_external_sources,
);

async fn client_on(gw: &TestGateway, sql: &str) -> (u16, Value) {
    client_with(gw, sql, json!([])).await
}

async fn client_with(gw: &TestGateway, sql: &str, params: Value) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url("/query"))
        .bearer_auth(CLIENT)
        .header("X-Starbase-Source", "external")
        .json(&json!({"sql": sql, "params": params}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn policies_filter_external_sources_and_views_are_refused(kind: SourceKind) {
    let Some(db) = ExternalDb::start(kind).await else {
        return;
    };
    let sources = vec![db.source("external")];
    let gw = TestGateway::start_with(|c| {
        c.sources = sources;
        c.enable_rls = true;
    })
    .await;
    for sql in [
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, user_id VARCHAR(10), title VARCHAR(20))",
        "INSERT INTO todos VALUES (1, 'u1', 'mine'), (2, 'u2', 'LEAK')",
        "CREATE VIEW todo_view AS SELECT * FROM todos",
    ] {
        query_on(&gw, "external", sql, json!([])).await;
    }
    let (status, body) = gw
        .post(
            "/admin/rls/policies",
            json!({"actions": "SELECT", "table": "todos", "column": "user_id", "value": "u1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for sql in [
        "SELECT id, title FROM todos",
        "SELECT id, title FROM todos WHERE 1 = 1 OR id = 2",
        "SELECT t.id, t.title FROM todos t WHERE t.id IN (SELECT id FROM todos)",
        "WITH x AS (SELECT * FROM todos) SELECT id, title FROM x",
    ] {
        let (status, body) = client_on(&gw, sql).await;
        assert_eq!(
            (status, body["result"].clone()),
            (200, json!([{"id": 1, "title": "mine"}])),
            "{sql}"
        );
    }
    // A view reads past the rewrite: refused, as is a write without an INSERT policy.
    for sql in [
        "SELECT * FROM todo_view",
        "INSERT INTO todos VALUES (3, 'u1', 'x')",
    ] {
        let (status, body) = client_on(&gw, sql).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("42501")),
            "{sql}: {body}"
        );
        assert!(!body.to_string().contains("LEAK"));
    }
    // A table created after the first look is found; a view created after it is refused.
    query_on(&gw, "external", "CREATE TABLE fresh (a INTEGER)", json!([])).await;
    query_on(
        &gw,
        "external",
        "CREATE VIEW fresh_view AS SELECT * FROM todos",
        json!([]),
    )
    .await;
    let (status, body) = client_on(&gw, "SELECT count(*) AS n FROM fresh").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client_on(&gw, "SELECT * FROM fresh_view").await;
    assert_eq!(status, 403, "{body}");
    // REST on the source goes through the same rewrite.
    let response = gw
        .client
        .get(gw.url("/rest/todos?source=external"))
        .bearer_auth(CLIENT)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains("mine") && !text.contains("LEAK"), "{text}");
    let (_, all) = post_on(
        &gw,
        "external",
        "/query",
        json!({"sql": "SELECT id FROM todos"}),
    )
    .await;
    assert_eq!(all["result"].as_array().map(Vec::len), Some(2));
    gw.stop().await;
    db.finish().await;
}

async fn the_allowlist_holds_on_external_sources(kind: SourceKind) {
    let Some(db) = ExternalDb::start(kind).await else {
        return;
    };
    let sources = vec![db.source("external")];
    let gw = TestGateway::start_with(|c| {
        c.sources = sources;
        c.enable_allowlist = true;
    })
    .await;
    query_on(
        &gw,
        "external",
        "CREATE TABLE todos (id INTEGER PRIMARY KEY)",
        json!([]),
    )
    .await;
    query_on(
        &gw,
        "external",
        "INSERT INTO todos VALUES (1), (2), (3)",
        json!([]),
    )
    .await;
    for sql in [
        "SELECT id FROM todos WHERE id = ?",
        "SELECT id FROM todos ORDER BY id LIMIT ? OFFSET ?",
    ] {
        let (status, body) = gw
            .post(
                "/admin/allowlist",
                json!({"sql_statement": sql, "source": "external"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // The source's own placeholders match the entry's `?`.
    let (status, body) = client_with(&gw, "select id from todos WHERE ID = $1", json!([2])).await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!([{"id": 2}])),
        "{body}"
    );
    let (status, body) = client_with(
        &gw,
        "SELECT id FROM todos ORDER BY id LIMIT $1 OFFSET $2",
        json!([1, 2]),
    )
    .await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!([{"id": 3}])),
        "{body}"
    );
    let (status, body) = client_on(&gw, "DELETE FROM todos").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("42501")),
        "{body}"
    );
    let rows = gw
        .client
        .get(gw.url("/admin/allowlist/rejections"))
        .bearer_auth(crate::common::ADMIN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(rows["result"][0]["sql_statement"], "DELETE FROM todos");
    assert_eq!(rows["result"][0]["source"], "external");
    let (_, all) = post_on(
        &gw,
        "external",
        "/query",
        json!({"sql": "SELECT id FROM todos"}),
    )
    .await;
    assert_eq!(all["result"].as_array().map(Vec::len), Some(3));
    gw.stop().await;
    db.finish().await;
}
