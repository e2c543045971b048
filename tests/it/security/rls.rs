//! `ENABLE_RLS`: a client's statements see and change only the rows its policies allow, on
//! every frontend; whatever cannot be analysed is refused.

use serde_json::{Value, json};

use super::{admin, client, gateway, pg_code, ws_ask};
use crate::common::{ADMIN, CLIENT, TestGateway};

/// `todos` restricted to `user_id = 'u1'` for SELECT, UPDATE and DELETE; `tags` open.
async fn restricted() -> TestGateway {
    let gw = gateway(false, true).await;
    admin(
        &gw,
        "CREATE TABLE todos (id INTEGER PRIMARY KEY, user_id TEXT, title TEXT)",
    )
    .await;
    admin(
        &gw,
        "INSERT INTO todos VALUES (1, 'u1', 'mine'), (2, 'u2', 'LEAK'), (3, 'u1', 'also mine')",
    )
    .await;
    admin(&gw, "CREATE TABLE tags (todo_id INTEGER, tag TEXT)").await;
    admin(&gw, "INSERT INTO tags VALUES (1, 'a'), (2, 'b')").await;
    admin(&gw, "CREATE VIEW all_todos AS SELECT * FROM todos").await;
    for action in ["SELECT", "UPDATE", "DELETE"] {
        admin(
            &gw,
            &format!(
                "INSERT INTO tmp_rls_policies (actions, \"table\", \"column\", value) \
                 VALUES ('{action}', 'todos', 'user_id', 'u1')"
            ),
        )
        .await;
    }
    gw
}

fn ids(rows: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .as_array()
        .unwrap_or_else(|| panic!("not rows: {rows}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

async fn get_as(gw: &TestGateway, token: &str, path: &str) -> (u16, String) {
    let response = gw
        .client
        .get(gw.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn reads_are_filtered_on_http_rest_websocket_exports_and_pgwire() {
    let gw = restricted().await;
    for sql in [
        "SELECT * FROM todos",
        "SELECT t.* FROM todos AS t JOIN tags ON tags.todo_id = t.id OR 1 = 1",
        "WITH x AS (SELECT * FROM todos) SELECT * FROM x",
        "SELECT * FROM (SELECT * FROM todos) WHERE 1 = 1 OR id = 2",
        "SELECT todo_id AS id FROM tags AS todos WHERE todo_id IN (SELECT id FROM todos) \
         UNION SELECT id FROM todos",
    ] {
        let (status, body) = client(&gw, sql, json!([])).await;
        assert_eq!(status, 200, "{sql}: {body}");
        assert!(!body.to_string().contains("LEAK"), "{sql}: {body}");
        let got = ids(&body["result"]);
        assert!(!got.contains(&2), "{sql}: {got:?}");
    }
    let (_, body) = client(&gw, "SELECT * FROM todos", json!([])).await;
    assert_eq!(ids(&body["result"]), vec![1, 3]);
    // The admin is not filtered.
    assert_eq!(ids(&admin(&gw, "SELECT * FROM todos").await), vec![1, 2, 3]);
    // REST, WebSocket, exports.
    let (status, text) = get_as(&gw, CLIENT, "/rest/todos").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        ids(&serde_json::from_str::<Value>(&text).unwrap()["result"]),
        vec![1, 3]
    );
    let (status, text) = get_as(&gw, CLIENT, "/rest/todos/2").await;
    assert!(!text.contains("LEAK"), "{status} {text}");
    let reply = ws_ask(
        &gw,
        CLIENT,
        json!({"action": "query", "sql": "SELECT * FROM todos"}),
    )
    .await;
    assert_eq!(ids(&reply), vec![1, 3]);
    for path in ["/export/json/todos", "/export/csv/todos"] {
        let (status, text) = get_as(&gw, CLIENT, path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert!(
            text.contains("also mine") && !text.contains("LEAK"),
            "{path}: {text}"
        );
    }
    let pg = gw.pg_client_as(CLIENT).await;
    let rows = pg
        .query("SELECT id, title FROM todos ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(got, vec![1, 3]);
    let rows = pg
        .query("SELECT count(*) FROM todos WHERE id = $1", &[&2_i64])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 0);
    gw.stop().await;
}

#[tokio::test]
async fn writes_are_confined_and_actions_without_a_policy_are_refused() {
    let gw = restricted().await;
    // No INSERT policy: refused, nothing written.
    let (status, body) = client(&gw, "INSERT INTO todos VALUES (9, 'u1', 'x')", json!([])).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("42501")),
        "{body}"
    );
    // UPDATE and DELETE reach only the caller's rows, whatever the WHERE says.
    let (status, body) = client(
        &gw,
        "UPDATE todos SET title = 'changed' WHERE 1 = 1",
        json!([]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client(&gw, "DELETE FROM todos WHERE id = 2 OR 1 = 1", json!([])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        admin(&gw, "SELECT id, title FROM todos").await,
        json!([{"id": 2, "title": "LEAK"}])
    );
    // REST writes go through the same rewrite.
    let response = gw
        .client
        .delete(gw.url("/rest/todos/2"))
        .bearer_auth(CLIENT)
        .send()
        .await
        .unwrap();
    assert_ne!(response.status().as_u16() / 100, 5);
    assert_eq!(ids(&admin(&gw, "SELECT id FROM todos").await), vec![2]);
    gw.stop().await;
}

#[tokio::test]
async fn what_cannot_be_analysed_or_reads_past_the_rewrite_is_refused() {
    let gw = restricted().await;
    for sql in [
        // A view reads `todos` past the rewrite: SQLite's authorizer refuses it.
        "SELECT * FROM all_todos",
        "SELECT * FROM tags JOIN all_todos ON all_todos.id = tags.todo_id",
        // Schema changes, attached databases, pragmas, several statements, unreadable SQL.
        "CREATE VIEW mine AS SELECT * FROM todos",
        "CREATE TRIGGER tr AFTER INSERT ON tags BEGIN DELETE FROM todos; END",
        "ATTACH DATABASE ':memory:' AS aux",
        "PRAGMA writable_schema = 1",
        "SELECT * FROM todos; SELECT * FROM todos WHERE user_id = 'u2'",
        "SELECT * FROM todos WHERE id = ((",
    ] {
        let (status, body) = client(&gw, sql, json!([])).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("42501")),
            "{sql}: {body}"
        );
    }
    let pg = gw.pg_client_as(CLIENT).await;
    let err = pg
        .simple_query("SELECT * FROM all_todos")
        .await
        .unwrap_err();
    assert_eq!(pg_code(&err), "42501");
    // Routes that move whole tables are closed to clients.
    let (status, text) = get_as(&gw, CLIENT, "/export/dump").await;
    assert_eq!(status, 403, "{text}");
    let (status, _) = gw
        .post_as(
            CLIENT,
            "/import/json/todos",
            json!({"data": [{"id": 7, "user_id": "u2"}]}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = gw
        .post_as(CLIENT, "/export/dump", json!({"format": "sql"}))
        .await;
    assert_eq!(status, 403);
    // Nor may they fetch a dump the admin made.
    let (status, body) = gw.post("/export/dump", json!({"format": "json"})).await;
    assert_eq!(status, 202, "{body}");
    let key = body["progressKey"].as_str().unwrap().to_owned();
    let (status, text) = get_as(&gw, CLIENT, &format!("/export/dump/download/{key}.json")).await;
    assert_eq!(status, 403, "{text}");
    assert!(!text.contains("LEAK"));
    // The admin keeps every route.
    assert_eq!(get_as(&gw, ADMIN, "/export/dump").await.0, 200);
    assert_eq!(
        ids(&admin(&gw, "SELECT id FROM todos").await),
        vec![1, 2, 3]
    );
    gw.stop().await;
}

/// One REST attempt: method, path, body; the check is that no response carries `LEAK` and
/// that row 2 (the other user's) is unchanged afterwards.
#[allow(clippy::print_stderr)]
#[tokio::test]
async fn rest_requests_reach_only_the_callers_rows() {
    let gw = restricted().await;
    let attempts: &[(&str, &str, Option<Value>)] = &[
        ("GET", "/rest/todos?user_id=u2", None),
        ("GET", "/rest/todos?user_id.ne=u1", None),
        ("GET", "/rest/todos/2", None),
        ("GET", "/rest/todos?id.in=1,2,3", None),
        (
            "GET",
            "/rest/todos?sort_by=user_id&order=desc&limit=10",
            None,
        ),
        ("GET", "/rest/todos?title.like=%25", None),
        ("GET", "/rest/todos?user_id.is=null", None),
        ("GET", "/rest/todos?limit=1&offset=1", None),
        ("GET", "/rest/main/todos?id.gte=0", None),
        ("GET", "/rest/todos?id.lt=100&id.gt=-1", None),
        ("GET", "/rest/all_todos", None),
        ("GET", "/rest/todos?user_id%3D'u2'%20OR%201=1", None),
        ("PATCH", "/rest/todos/2", Some(json!({"title": "hacked"}))),
        (
            "PUT",
            "/rest/todos/2",
            Some(json!({"user_id": "u1", "title": "hacked"})),
        ),
        ("PATCH", "/rest/todos/1", Some(json!({"user_id": "u2"}))),
        ("DELETE", "/rest/todos/2", None),
        (
            "POST",
            "/rest/todos",
            Some(json!({"id": 9, "user_id": "u2", "title": "x"})),
        ),
    ];
    let mut refused = 0;
    for (method, path, body) in attempts {
        let mut request = gw
            .client
            .request(method.parse().unwrap(), gw.url(path))
            .bearer_auth(CLIENT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(!text.contains("LEAK"), "{method} {path}: {status} {text}");
        assert_ne!(status / 100, 5, "{method} {path}: {text}");
        if status / 100 == 4 {
            refused += 1;
        } else if *method == "GET" {
            let rows = serde_json::from_str::<Value>(&text).unwrap()["result"].clone();
            let rows = if rows.is_object() {
                json!([rows])
            } else {
                rows
            };
            assert!(
                ids(&rows).iter().all(|id| [1, 3].contains(id)),
                "{method} {path}: {text}"
            );
        }
    }
    // The other user's row is untouched, no row moved to them, nothing was inserted.
    assert_eq!(
        admin(&gw, "SELECT id, user_id, title FROM todos ORDER BY id").await,
        json!([
            {"id": 1, "user_id": "u1", "title": "mine"},
            {"id": 2, "user_id": "u2", "title": "LEAK"},
            {"id": 3, "user_id": "u1", "title": "also mine"},
        ])
    );
    eprintln!(
        "rls REST attempts: {} run, {refused} refused, 0 leaked",
        attempts.len()
    );
    gw.stop().await;
}

#[tokio::test]
async fn restricted_clients_are_not_relayed_to_postgres_sources() {
    let Some(target) = crate::common::external::local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy_and(|c| c.enable_rls = true, vec![target]).await;
    let connect = |password: &'static str| {
        let config = format!(
            "host=127.0.0.1 port={} user=anyone password={password} dbname=external",
            gw.pg.port()
        );
        async move {
            let (client, connection) =
                tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, tokio_postgres::Error>(client)
        }
    };
    let err = connect(CLIENT).await.unwrap_err();
    assert_eq!(pg_code(&err), "42501", "{err}");
    // The admin is relayed as before.
    let admin = connect(ADMIN).await.unwrap();
    let one: i32 = admin.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    gw.stop().await;
}
