//! External sources through HTTP and WebSocket: the local PostgreSQL and MariaDB behind
//! `X-Starbase-Source` / `?source=`, each test in its own schema or database.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use starbase::config::SourceKind;
use tokio_tungstenite::tungstenite::Message;

use crate::common::external::{ExternalDb, proxy};
use crate::common::{ADMIN, TestGateway};

/// Generates one test per external backend for each suite function.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::SourceKind::Postgres).await }
        )* }
        mod mysql { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::SourceKind::MySql).await }
        )* }
    };
}

on_both!(
    crud_with_positional_and_named_params,
    transactions_are_atomic_on_one_connection,
    errors_have_the_same_sqlstate_as_sqlite,
    websocket_queries_run_on_the_source,
    catalog_routes_answer_0a000,
    table_exports_stream_from_the_source,
    down_server_is_503_08006_and_recovers,
    pool_exhaustion_is_53300,
);

/// A gateway whose `external` and `warehouse` sources are both this test's namespace.
async fn gateway(kind: SourceKind) -> Option<(ExternalDb, TestGateway)> {
    let db = ExternalDb::start(kind).await?;
    let sources = vec![db.source("external"), db.source("warehouse")];
    let gw = TestGateway::start_with(|c| c.sources = sources).await;
    Some((db, gw))
}

/// POSTs `body` to `path` on `source` (by header), as admin.
async fn post_on(gw: &TestGateway, source: &str, path: &str, body: Value) -> (u16, Value) {
    let response = gw
        .client
        .post(gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Runs one statement on `source` and returns the `result` (panics on error).
async fn query_on(gw: &TestGateway, source: &str, sql: &str, params: Value) -> Value {
    let (status, body) = post_on(gw, source, "/query", json!({"sql": sql, "params": params})).await;
    assert_eq!(status, 200, "{sql}: {body}");
    body["result"].clone()
}

const ITEMS: &str =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, price NUMERIC(10,2))";

async fn crud_with_positional_and_named_params(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    query_on(&gw, "external", ITEMS, json!([])).await;
    let insert = "INSERT INTO items (id, name, price) VALUES ($1, $2, $3)";
    query_on(&gw, "external", insert, json!([1, "apple", "1.50"])).await;
    // `?source=` works as the header does, and so does a source's own name.
    let (status, body) = gw
        .post(
            "/query?source=external",
            json!({"sql": insert, "params": [2, "pear", null]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rows = query_on(
        &gw,
        "warehouse",
        "SELECT id, name, price FROM items ORDER BY id",
        json!([]),
    )
    .await;
    assert_eq!(
        rows,
        json!([{"id": 1, "name": "apple", "price": "1.50"}, {"id": 2, "name": "pear", "price": null}])
    );
    let named = query_on(
        &gw,
        "external",
        "SELECT name FROM items WHERE id = :id",
        json!({"id": 2}),
    )
    .await;
    assert_eq!(named, json!([{"name": "pear"}]));
    let reused = query_on(
        &gw,
        "external",
        "SELECT name FROM items WHERE id = $2 OR id = $2 OR name = $1",
        json!(["none", 1]),
    )
    .await;
    assert_eq!(reused, json!([{"name": "apple"}]));

    let (status, body) = post_on(
        &gw,
        "external",
        "/query/raw",
        json!({"sql": "UPDATE items SET name = $1 WHERE id = $2", "params": ["plum", 2]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["meta"]["rows_written"], 1, "{body}");
    let (_, body) = post_on(
        &gw,
        "external",
        "/query/raw",
        json!({"sql": "SELECT id, name FROM items WHERE id = 2"}),
    )
    .await;
    assert_eq!(
        body["result"],
        json!({"columns": ["id", "name"], "rows": [[2, "plum"]], "meta": {"rows_read": 1, "rows_written": 0}})
    );
    query_on(
        &gw,
        "external",
        "DELETE FROM items WHERE id = $1",
        json!([1]),
    )
    .await;
    let count = query_on(
        &gw,
        "external",
        "SELECT count(*) AS n FROM items",
        json!([]),
    )
    .await;
    assert_eq!(count, json!([{"n": 1}]));
    // The embedded database is untouched.
    let (status, body) = gw
        .post("/query", json!({"sql": "SELECT * FROM items"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("42P01")),
        "{body}"
    );
    gw.stop().await;
    db.finish().await;
}

async fn transactions_are_atomic_on_one_connection(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    query_on(
        &gw,
        "external",
        "CREATE TABLE t (id INTEGER PRIMARY KEY)",
        json!([]),
    )
    .await;
    let insert = |id: i64| json!({"sql": "INSERT INTO t (id) VALUES ($1)", "params": [id]});
    let (status, body) = post_on(
        &gw,
        "external",
        "/query",
        json!({"transaction": [insert(1), insert(2), insert(1)]}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("23505")),
        "{body}"
    );
    let count = query_on(&gw, "external", "SELECT count(*) AS n FROM t", json!([])).await;
    assert_eq!(
        count,
        json!([{"n": 0}]),
        "the failed transaction left nothing"
    );

    // Session state set by one step is seen by the next: one connection throughout.
    let (set, get) = match kind {
        SourceKind::Postgres => (
            "SELECT set_config('starbase.probe', 'pinned', true) AS s",
            "SELECT current_setting('starbase.probe') AS v",
        ),
        SourceKind::MySql => ("SET @probe = 'pinned'", "SELECT @probe AS v"),
    };
    let (status, body) = post_on(
        &gw,
        "external",
        "/query",
        json!({"transaction": [insert(1), {"sql": set}, {"sql": get}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][2], json!([{"v": "pinned"}]), "{body}");
    let count = query_on(&gw, "external", "SELECT count(*) AS n FROM t", json!([])).await;
    assert_eq!(count, json!([{"n": 1}]));
    gw.stop().await;
    db.finish().await;
}

async fn errors_have_the_same_sqlstate_as_sqlite(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    let ddl = "CREATE TABLE u (id INTEGER PRIMARY KEY, email VARCHAR(50) NOT NULL UNIQUE)";
    let cases = [
        ("INSERT INTO u (id, email) VALUES (2, 'a@x')", "23505"),
        ("INSERT INTO u (id, email) VALUES (3, NULL)", "23502"),
        ("SELECT * FROM no_such_table", "42P01"),
        ("SELECT no_such_column FROM u", "42703"),
        ("SELEKT 1", "42601"),
    ];
    for source in ["internal", "external"] {
        query_on(&gw, source, ddl, json!([])).await;
        query_on(
            &gw,
            source,
            "INSERT INTO u (id, email) VALUES (1, 'a@x')",
            json!([]),
        )
        .await;
        for (sql, code) in cases {
            let (status, body) = post_on(&gw, source, "/query", json!({"sql": sql})).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some(code)),
                "{source}: {sql}: {body}"
            );
            assert!(
                body["error"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}"
            );
            assert!(body.get("result").is_none(), "never swallowed: {body}");
        }
    }
    gw.stop().await;
    db.finish().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ask(socket: &mut Socket, request: Value) -> Value {
    socket
        .send(Message::text(request.to_string()))
        .await
        .unwrap();
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn websocket_queries_run_on_the_source(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    query_on(&gw, "external", ITEMS, json!([])).await;
    let url = format!("ws://{}/socket?token={ADMIN}&source=external", gw.http);
    let mut ws = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let insert = "INSERT INTO items (id, name) VALUES ($1, $2)";
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": insert, "params": [7, "fig"]}),
    )
    .await;
    assert_eq!(reply, json!([]));
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": "SELECT id, name FROM items WHERE id = $1", "params": [7], "id": 1}),
    )
    .await;
    assert_eq!(
        reply,
        json!({"id": 1, "result": [{"id": 7, "name": "fig"}]})
    );
    let reply = ask(&mut ws, json!({"transaction": [{"sql": insert, "params": [8, "kiwi"]}, {"sql": insert, "params": [7, "dup"]}]})).await;
    assert_eq!(reply["code"], "23505", "{reply}");
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": "SELECT * FROM nope", "id": "e"}),
    )
    .await;
    assert_eq!(
        (reply["code"].as_str(), reply["id"].as_str()),
        (Some("42P01"), Some("e"))
    );
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": "SELECT count(*) AS n FROM items"}),
    )
    .await;
    assert_eq!(
        reply,
        json!([{"n": 1}]),
        "the failed transaction left nothing"
    );

    let url = format!("ws://{}/socket?token={ADMIN}&source=elsewhere", gw.http);
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    gw.stop().await;
    db.finish().await;
}

async fn catalog_routes_answer_0a000(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    let backend = kind.as_str();
    let rest_too = if kind == SourceKind::MySql {
        vec![("GET", "/rest/items")]
    } else {
        vec![]
    };
    for (method, path) in rest_too.into_iter().chain([
        ("GET", "/export/dump"),
        ("POST", "/import/json/items"),
        ("POST", "/import/csv/items"),
    ]) {
        let request = match method {
            "GET" => gw.client.get(gw.url(path)),
            _ => gw.client.post(gw.url(path)).json(&json!({"data": []})),
        };
        let response = request
            .bearer_auth(ADMIN)
            .header("X-Starbase-Source", "external")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("0A000")),
            "{path}: {body}"
        );
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains(path) && message.contains(backend),
            "{message}"
        );
    }
    let (status, body) = post_on(&gw, "nowhere", "/query", json!({"sql": "SELECT 1"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("3D000")),
        "{body}"
    );
    let response = gw
        .client
        .get(gw.url("/status/database"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["result"]["dialects"],
        json!({"internal": "sqlite", "external": backend, "warehouse": backend})
    );
    gw.stop().await;
    db.finish().await;
}

async fn down_server_is_503_08006_and_recovers(kind: SourceKind) {
    let Some(db) = ExternalDb::start(kind).await else {
        return;
    };
    // A port nothing listens on (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut source = db.source("external");
    let real_port = source.server.port;
    source.server.port = port;
    source.server.connect_timeout = Duration::from_secs(2);
    let gw = TestGateway::start_with(|c| c.sources = vec![source]).await;
    let started = Instant::now();
    let (status, body) =
        post_on(&gw, "external", "/query", json!({"sql": "SELECT 1 AS one"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("08006")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "fails fast: {:?}",
        started.elapsed()
    );
    assert!(
        body["error"].as_str().unwrap().contains(&port.to_string()),
        "{body}"
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let forwarder = tokio::spawn(proxy(listener, real_port));
    let (status, body) =
        post_on(&gw, "external", "/query", json!({"sql": "SELECT 1 AS one"})).await;
    assert_eq!((status, body), (200, json!({"result": [{"one": 1}]})));
    forwarder.abort();
    gw.stop().await;
    db.finish().await;
}

async fn pool_exhaustion_is_53300(kind: SourceKind) {
    let Some(db) = ExternalDb::start(kind).await else {
        return;
    };
    let mut source = db.source("external");
    source.server.pool_size = 1;
    source.server.acquire_timeout = Duration::from_millis(300);
    let gw = TestGateway::start_with(|c| c.sources = vec![source]).await;
    let sleep = match kind {
        SourceKind::Postgres => "SELECT pg_sleep(3) AS s",
        SourceKind::MySql => "SELECT SLEEP(3) AS s",
    };
    let (client, url) = (gw.client.clone(), gw.url("/query"));
    let holder = tokio::spawn(async move {
        client
            .post(url)
            .bearer_auth(ADMIN)
            .header("X-Starbase-Source", "external")
            .json(&json!({"sql": sleep}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    // Give the first request time to take the only connection.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let started = Instant::now();
    let (status, body) =
        post_on(&gw, "external", "/query", json!({"sql": "SELECT 1 AS one"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("53300")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(holder.await.unwrap(), 200);
    gw.stop().await;
    db.finish().await;
}

async fn get_on(gw: &TestGateway, source: &str, path: &str) -> (u16, String) {
    let response = gw
        .client
        .get(gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", source)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn table_exports_stream_from_the_source(kind: SourceKind) {
    let Some((db, gw)) = gateway(kind).await else {
        return;
    };
    query_on(&gw, "external", ITEMS, json!([])).await;
    let insert = "INSERT INTO items (id, name, price) VALUES ($1, $2, $3)";
    query_on(&gw, "external", insert, json!([1, "a,b", "2.50"])).await;
    query_on(&gw, "external", insert, json!([2, "plain", null])).await;
    let (status, body) = get_on(&gw, "external", "/export/json/items").await;
    assert_eq!(status, 200, "{body}");
    let rows: Value = serde_json::from_str(&body).unwrap();
    let mut rows = rows.as_array().unwrap().clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        rows,
        [
            json!({"id": 1, "name": "a,b", "price": "2.50"}),
            json!({"id": 2, "name": "plain", "price": null})
        ]
    );
    let (status, body) = get_on(&gw, "external", "/export/csv/items").await;
    assert_eq!(status, 200, "{body}");
    let mut lines: Vec<&str> = body.lines().collect();
    lines[1..].sort_unstable();
    assert_eq!(lines, ["id,name,price", "1,\"a,b\",\"2.50\"", "2,plain,"]);
    let (status, body) = get_on(&gw, "external", "/export/json/missing").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("42P01"), "{body}");
    // A quote in the name is matched against the catalog, never pasted.
    let (status, _) = get_on(&gw, "external", "/export/json/items%22%20--").await;
    assert_eq!(status, 404);
    gw.stop().await;
    db.finish().await;
}

/// `method` `path` on the `external` source with an optional JSON body.
async fn rest(gw: &TestGateway, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = gw
        .client
        .request(method, gw.url(path))
        .bearer_auth(ADMIN)
        .header("X-Starbase-Source", "external");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_on_postgres() {
    let Some((db, gw)) = gateway(SourceKind::Postgres).await else {
        return;
    };
    let ddl = "CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL, \
               price NUMERIC(10,2), active BOOLEAN DEFAULT true)";
    query_on(&gw, "external", ddl, json!([])).await;
    let (status, body) = rest(
        &gw,
        "POST",
        "/rest/items",
        Some(json!({"name": "apple", "price": "1.50"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let apple = json!({"id": 1, "name": "apple", "price": "1.50", "active": true});
    assert_eq!(body["result"]["data"], apple, "{body}");
    rest(
        &gw,
        "POST",
        "/rest/items",
        Some(json!({"name": "pear", "active": false})),
    )
    .await;

    let (status, body) = rest(&gw, "GET", "/rest/items?active=true&price.gt=1", None).await;
    assert_eq!((status, &body["result"]), (200, &json!([apple])), "{body}");
    let (_, body) = rest(&gw, "GET", "/rest/items/2", None).await;
    assert_eq!(body["result"][0]["name"], "pear", "{body}");
    let path = format!("/rest/{}/items?sort_by=id&order=desc&limit=1", db.namespace);
    let (_, body) = rest(&gw, "GET", &path, None).await;
    assert_eq!(body["result"][0]["id"], 2, "{body}");

    let (status, body) = rest(&gw, "PATCH", "/rest/items/1", Some(json!({"name": "plum"}))).await;
    assert_eq!(
        (status, &body["result"]["data"]["name"]),
        (200, &json!("plum")),
        "{body}"
    );
    let (status, body) = rest(&gw, "PUT", "/rest/items/1", Some(json!({"name": "fig"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["data"],
        json!({"id": 1, "name": "fig", "price": null, "active": true}),
        "PUT resets omitted columns to their defaults"
    );
    let (status, _) = rest(&gw, "DELETE", "/rest/items/1", None).await;
    assert_eq!(status, 200);
    let (status, body) = rest(&gw, "DELETE", "/rest/items/1", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("02000")),
        "{body}"
    );
    let (status, body) = rest(&gw, "GET", "/rest/items?id=abc", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("22P02")),
        "{body}"
    );
    let (_, body) = rest(&gw, "GET", "/rest/missing", None).await;
    assert_eq!(body["code"], "42P01", "{body}");
    let (_, body) = rest(&gw, "GET", "/rest/items?nope=1", None).await;
    assert_eq!(body["code"], "42703", "{body}");
    gw.stop().await;
    db.finish().await;
}
