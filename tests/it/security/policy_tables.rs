//! The policy tables live in the metadata database: the admin manages them with SQL on
//! `/query` (as in StarbaseDB) or through `/admin/…`; clients can neither see nor touch them.

use serde_json::json;

use super::{admin, client, gateway, pg_code, query_as};
use crate::common::{ADMIN, CLIENT};

#[tokio::test]
async fn admin_sql_on_the_policy_tables_reaches_the_metadata_database_only() {
    let gw = gateway(false, true).await;
    admin(
        &gw,
        "INSERT INTO tmp_rls_policies (actions, \"table\", \"column\", value) \
         VALUES ('SELECT', 'todos', 'user_id', 'u1')",
    )
    .await;
    let rows = admin(
        &gw,
        "SELECT actions, \"table\", operator FROM tmp_rls_policies",
    )
    .await;
    assert_eq!(
        rows,
        json!([{"actions": "SELECT", "table": "todos", "operator": "="}])
    );
    // StarbaseDB's CHECK constraint still holds.
    let (status, body) = query_as(
        &gw,
        ADMIN,
        "INSERT INTO tmp_rls_policies (actions, \"table\", \"column\", value) \
         VALUES ('TRUNCATE', 't', 'c', 'v')",
        json!([]),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("23514")),
        "{body}"
    );
    // Mixing them with the user's tables in one transaction is refused, not half-run.
    let (status, body) = gw
        .post(
            "/query",
            json!({"transaction": [
                {"sql": "CREATE TABLE other (a)"},
                {"sql": "DELETE FROM tmp_rls_policies"},
            ]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("0A000")),
        "{body}"
    );
    assert_eq!(
        admin(&gw, "SELECT count(*) AS n FROM tmp_rls_policies").await[0]["n"],
        1
    );
    // The user's database has no such tables: the admin's dump does not carry them, and a
    // client finds nothing by those names, on HTTP or the wire.
    let dump = gw
        .client
        .get(gw.url("/export/dump"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!dump.contains("tmp_rls_policies"), "{dump}");
    assert!(!dump.contains("tmp_allowlist"), "{dump}");
    let (status, body) = client(&gw, "SELECT * FROM tmp_rls_policies", json!([])).await;
    assert_eq!(status / 100, 4, "{body}");
    let pg = gw.pg_client_as(CLIENT).await;
    let err = pg
        .simple_query("DELETE FROM tmp_rls_policies")
        .await
        .unwrap_err();
    assert!(
        ["42P01", "42501"].contains(&pg_code(&err).as_str()),
        "{err}"
    );
    assert_eq!(
        admin(&gw, "SELECT count(*) AS n FROM tmp_rls_policies").await[0]["n"],
        1
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_look_alike_table_created_by_a_client_changes_nothing() {
    let gw = gateway(false, true).await;
    admin(
        &gw,
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, user_id TEXT)",
    )
    .await;
    admin(&gw, "INSERT INTO todos VALUES (1, 'u1'), (2, 'u2')").await;
    // No policies yet: clients may still create tables, including one named like ours.
    let (status, body) = client(
        &gw,
        "CREATE TABLE tmp_rls_policies (actions, \"schema\", \"table\", \"column\", value, value_type, operator)",
        json!([]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = client(
        &gw,
        "INSERT INTO tmp_rls_policies VALUES ('SELECT', NULL, 'todos', 'user_id', 'u2', 'string', '!=')",
        json!([]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = gw
        .post(
            "/admin/rls/policies",
            json!({"actions": "SELECT", "table": "todos", "column": "user_id", "value": "u1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = client(&gw, "SELECT id FROM todos", json!([])).await;
    assert_eq!(
        (status, body["result"].clone()),
        (200, json!([{"id": 1}])),
        "{body}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn admin_routes_list_add_check_and_delete() {
    let gw = gateway(true, true).await;
    let get = |path: &'static str, token: &'static str| {
        let request = gw.client.get(gw.url(path)).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = gw
        .post(
            "/admin/rls/policies",
            json!({"actions": "select", "table": "todos", "column": "user_id",
                   "value": "context.id()"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["result"]["id"].as_i64().unwrap();
    assert_eq!(body["result"]["actions"], "SELECT");
    assert_eq!(body["result"]["operator"], "=");
    let (status, body) = get("/admin/rls/policies", ADMIN).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"][0]["value"], "context.id()");
    // Entries enforcement could not read are refused up front.
    for bad in [
        json!({"actions": "SELECT", "table": "t", "column": "c", "value": "1", "operator": "; DROP"}),
        json!({"actions": "MERGE", "table": "t", "column": "c", "value": "1"}),
        json!({"actions": "SELECT", "table": "t", "column": "c", "value": "x", "value_type": "number"}),
    ] {
        let (status, body) = gw.post("/admin/rls/policies", bad.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("22023")),
            "{bad}: {body}"
        );
    }
    let (status, body) = gw
        .post("/admin/allowlist", json!({"sql_statement": "SELECT 'open"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("42601")),
        "{body}"
    );
    let (status, body) = gw
        .post("/admin/allowlist", json!({"sql_statement": "SELECT 1"}))
        .await;
    assert_eq!(
        (status, body["result"]["source"].as_str()),
        (201, Some("internal"))
    );
    let entry = body["result"]["id"].as_i64().unwrap();
    // Clients may not use these routes.
    assert_eq!(get("/admin/allowlist", CLIENT).await.0, 403);
    let (status, _) = gw
        .post_as(
            CLIENT,
            "/admin/allowlist",
            json!({"sql_statement": "SELECT * FROM todos"}),
        )
        .await;
    assert_eq!(status, 403);
    let delete = |path: String| {
        let request = gw.client.delete(gw.url(&path)).bearer_auth(ADMIN);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(delete(format!("/admin/rls/policies/{id}")).await, 200);
    assert_eq!(delete(format!("/admin/rls/policies/{id}")).await, 404);
    assert_eq!(delete(format!("/admin/allowlist/{entry}")).await, 200);
    assert_eq!(
        get("/admin/rls/policies", ADMIN).await.1["result"],
        json!([])
    );
    assert_eq!(get("/admin/allowlist", ADMIN).await.1["result"], json!([]));
    gw.stop().await;
}

#[tokio::test]
async fn jwt_users_are_clients_and_may_not_manage_policies() {
    use crate::common::jwt::{HMAC_SECRET, Signer, claims};
    let gw = super::jwt_gateway().await;
    let jwt = Signer::hs256(HMAC_SECRET.as_bytes()).token(&claims("u1"));
    for path in [
        "/admin/allowlist",
        "/admin/rls/policies",
        "/admin/allowlist/rejections",
    ] {
        let response = gw
            .client
            .get(gw.url(path))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let (status, _) = gw
        .post_as(
            &jwt,
            "/admin/rls/policies",
            json!({"actions": "SELECT", "table": "t", "column": "c", "value": "x"}),
        )
        .await;
    assert_eq!(status, 403);
    // Their SQL on the policy tables reaches the user's database, which has none.
    let (status, body) = query_as(&gw, &jwt, "DELETE FROM tmp_rls_policies", json!([])).await;
    assert_eq!(status / 100, 4, "{body}");
    gw.stop().await;
}
