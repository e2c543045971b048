//! External sources through HTTP and WebSocket: the local PostgreSQL and MariaDB behind
//! `X-Starbase-Source` / `?source=`, each test in its own schema or database.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use starbase::config::SourceKind;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::external::{ExternalDb, ITEMS, gateway, post_on, proxy, query_on};
use crate::common::{ADMIN, TestGateway};

crate::common::external::on_both!(
    crud_with_positional_and_named_params,
    transactions_are_atomic_on_one_connection,
    errors_have_the_same_sqlstate_as_sqlite,
    websocket_queries_run_on_the_source,
    down_server_is_503_08006_and_recovers,
    pool_exhaustion_is_53300,
);

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
    if kind == SourceKind::MySql {
        // MySQL's own `?` placeholders work in its dialect.
        let sql = "SELECT name FROM items WHERE id = ? OR name = ?";
        let rows = query_on(&gw, "external", sql, json!([1, "none"])).await;
        assert_eq!(rows, json!([{"name": "apple"}]));
    }

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
            if source == "external" && code == "23505" {
                // The server's own fields come through: PostgreSQL's detail and constraint,
                // MySQL's error number.
                let detail = body["detail"].as_str().unwrap_or_default();
                match kind {
                    SourceKind::Postgres => {
                        assert!(detail.contains("a@x"), "{body}");
                        assert!(body["constraint"].is_string(), "{body}");
                    }
                    SourceKind::MySql => assert!(detail.contains("1062"), "{body}"),
                }
            }
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

    // The header picks the source of a socket too.
    let mut request = format!("ws://{}/socket?token={ADMIN}", gw.http)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("X-Starbase-Source", "warehouse".parse().unwrap());
    let mut ws = tokio_tungstenite::connect_async(request).await.unwrap().0;
    let reply = ask(&mut ws, json!({"sql": "SELECT count(*) AS n FROM items"})).await;
    assert_eq!(reply, json!([{"n": 1}]));

    let url = format!("ws://{}/socket?token={ADMIN}&source=elsewhere", gw.http);
    let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
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
    // Once the first request holds the only connection, the next one waits
    // `acquire_timeout` and gives up; until then it may still find the connection free.
    let deadline = Instant::now() + Duration::from_secs(2);
    let (status, body, waited) = loop {
        let started = Instant::now();
        let (status, body) =
            post_on(&gw, "external", "/query", json!({"sql": "SELECT 1 AS one"})).await;
        if status != 200 || Instant::now() > deadline {
            break (status, body, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("53300")),
        "{body}"
    );
    assert!(waited < Duration::from_secs(2), "never a hang: {waited:?}");
    assert_eq!(holder.await.unwrap(), 200);
    gw.stop().await;
    db.finish().await;
}
