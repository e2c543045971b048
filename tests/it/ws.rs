//! `/socket`: StarbaseDB's WebSocket query channel with ids, errors, order and auth.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{ADMIN, CLIENT, TestGateway};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(gw: &TestGateway, token: &str) -> Socket {
    let url = format!("ws://{}/socket?token={token}", gw.http);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn ask(socket: &mut Socket, request: Value) -> Value {
    socket
        .send(Message::text(request.to_string()))
        .await
        .unwrap();
    next_json(socket).await
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn queries_answer_like_starbasedb_and_echo_ids() {
    let gw = TestGateway::start().await;
    let mut ws = connect(&gw, ADMIN).await;
    // The README's message shape: a bare row array comes back.
    let reply = ask(
        &mut ws,
        json!({"sql": "SELECT 1 AS one", "params": [], "action": "query"}),
    )
    .await;
    assert_eq!(reply, json!([{"one": 1}]));
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": "SELECT $2 AS a, $1 AS b", "params": [1, 2], "id": "q1"}),
    )
    .await;
    assert_eq!(reply, json!({"id": "q1", "result": [{"a": 2, "b": 1}]}));
    // Errors come back (StarbaseDB drops them) and the socket stays usable.
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": "SELECT * FROM nope", "id": 2}),
    )
    .await;
    assert_eq!(reply["code"], "42P01");
    assert_eq!(reply["id"], 2);
    assert!(reply["error"].as_str().unwrap().contains("no such table"));
    let reply = ask(&mut ws, json!({"action": "subscribe", "id": 3})).await;
    assert_eq!(
        (reply["code"].clone(), reply["id"].clone()),
        (json!("22023"), json!(3))
    );
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(next_json(&mut ws).await["code"], "22P02");
    let reply = ask(
        &mut ws,
        json!({"action": "query", "sql": "SELECT 'still here' AS s"}),
    )
    .await;
    assert_eq!(reply, json!([{"s": "still here"}]));
    gw.stop().await;
}

#[tokio::test]
async fn replies_come_in_request_order_and_transactions_are_atomic() {
    let gw = TestGateway::start().await;
    let mut ws = connect(&gw, CLIENT).await;
    ask(&mut ws, json!({"action": "query", "sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"})).await;
    for i in 0..50 {
        let sql = if i % 7 == 0 {
            "SELECT * FROM missing"
        } else {
            "SELECT ? AS i"
        };
        let params = if i % 7 == 0 { json!([]) } else { json!([i]) };
        ws.send(Message::text(
            json!({"action": "query", "sql": sql, "params": params, "id": i}).to_string(),
        ))
        .await
        .unwrap();
    }
    for i in 0..50 {
        let reply = next_json(&mut ws).await;
        assert_eq!(reply["id"], i, "{reply}");
        if i % 7 == 0 {
            assert_eq!(reply["code"], "42P01");
        } else {
            assert_eq!(reply["result"], json!([{"i": i}]));
        }
    }
    let reply = ask(
        &mut ws,
        json!({"transaction": [
        {"sql": "INSERT INTO t (id, v) VALUES (1, 'a')"},
        {"sql": "INSERT INTO t (id, v) VALUES (2, NULL)"}
    ], "id": "tx"}),
    )
    .await;
    assert_eq!(
        (reply["code"].clone(), reply["id"].clone()),
        (json!("23502"), json!("tx"))
    );
    let reply = ask(
        &mut ws,
        json!({"transaction": [
            {"sql": "INSERT INTO t (id, v) VALUES (1, 'a')"},
            {"sql": "SELECT count(*) AS n FROM t"}
        ]}),
    )
    .await;
    assert_eq!(reply, json!([[], [{"n": 1}]]));
    gw.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_before_the_upgrade() {
    let gw = TestGateway::start().await;
    for url in [
        format!("ws://{}/socket?token=ABC123", gw.http),
        format!("ws://{}/socket", gw.http),
    ] {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 401);
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    // The token may also come as a bearer header.
    let mut request = format!("ws://{}/socket", gw.http)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        ask(&mut ws, json!({"action": "query", "sql": "SELECT 1 AS x"})).await,
        json!([{"x": 1}])
    );
    // A plain GET is not an upgrade.
    let response = gw
        .client
        .get(gw.url(&format!("/socket?token={ADMIN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "08P01");
    gw.stop().await;
}

#[tokio::test]
async fn pings_are_answered() {
    let gw = TestGateway::start().await;
    let mut ws = connect(&gw, ADMIN).await;
    ws.send(Message::Ping(b"hello".to_vec().into()))
        .await
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Pong(payload) => assert_eq!(&payload[..], b"hello"),
        other => panic!("expected a pong, got {other:?}"),
    }
    gw.stop().await;
}

#[tokio::test]
async fn shutdown_closes_open_sockets() {
    let gw = TestGateway::start().await;
    let mut ws = connect(&gw, ADMIN).await;
    assert_eq!(
        ask(&mut ws, json!({"action": "query", "sql": "SELECT 1 AS x"})).await,
        json!([{"x": 1}])
    );
    // The server must not wait for the client to hang up.
    gw.stop().await;
    match ws.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Rows in `sent`, counted over HTTP while the socket under test is stalled.
async fn executed(gw: &TestGateway) -> i64 {
    gw.query("SELECT count(*) AS n FROM sent", json!([]))
        .await
        .pointer("/0/n")
        .and_then(Value::as_i64)
        .unwrap()
}

#[tokio::test]
async fn a_client_that_stops_reading_stalls_only_its_own_socket() {
    const REQUESTS: i64 = 300;
    let gw = TestGateway::start().await;
    gw.query("CREATE TABLE sent (n INTEGER)", json!([])).await;
    let mut ws = connect(&gw, ADMIN).await;
    // Each request records that it ran, then asks for a 1 MiB reply. The client sends them
    // all and reads nothing: a server that queued replies would run every request and hold
    // ~300 MiB of replies; ours stops reading once the socket's buffers are full.
    for n in 0..REQUESTS {
        let request = json!({"action": "query", "id": n, "transaction": [
            {"sql": "INSERT INTO sent VALUES (?)", "params": [n]},
            {"sql": "SELECT hex(randomblob(524288)) AS big"},
        ]});
        ws.send(Message::text(request.to_string())).await.unwrap();
    }
    // Wait until the server has stopped making progress on the stalled socket.
    let (mut last, mut quiet) = (-1, 0);
    while quiet < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let now = executed(&gw).await;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    assert!(
        last < REQUESTS / 3,
        "{last} of {REQUESTS} requests ran although their replies were not read"
    );
    // Other clients are served meanwhile.
    let mut other = connect(&gw, ADMIN).await;
    let reply = ask(
        &mut other,
        json!({"action": "query", "sql": "SELECT 2 AS two"}),
    )
    .await;
    assert_eq!(reply, json!([{"two": 2}]));
    // Once the client reads again, every reply arrives, in order, and nothing was dropped.
    for n in 0..REQUESTS {
        let reply = next_json(&mut ws).await;
        assert_eq!(reply["id"], n, "reply out of order");
        assert_eq!(
            reply["result"][1][0]["big"].as_str().map(str::len),
            Some(1 << 20)
        );
    }
    assert_eq!(executed(&gw).await, REQUESTS);
    gw.stop().await;
}
