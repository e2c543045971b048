//! The allowlist, row-level security and the policy tables, on every frontend.

mod allowlist;
mod corpus;
mod external;
mod policy_tables;
mod rls;

use serde_json::{Value, json};

use crate::common::{ADMIN, CLIENT, TestGateway};

/// A gateway with the allowlist and/or row-level security on.
pub async fn gateway(allowlist: bool, rls: bool) -> TestGateway {
    TestGateway::start_with(|c| {
        c.enable_allowlist = allowlist;
        c.enable_rls = rls;
    })
    .await
}

/// A gateway with row-level security on that accepts HS256 JWTs signed with
/// `common::jwt::HMAC_SECRET`.
pub async fn jwt_gateway() -> TestGateway {
    use starbase::config::{JwtAlgorithm, JwtSettings, KeySource, Secret};
    TestGateway::start_with(|c| {
        c.enable_rls = true;
        c.jwt = Some(JwtSettings {
            algorithm: JwtAlgorithm::Hs256,
            keys: KeySource::Secret(Secret::new(crate::common::jwt::HMAC_SECRET.to_owned())),
            issuer: None,
            audience: None,
            leeway: std::time::Duration::from_secs(30),
            refetch_interval: std::time::Duration::from_secs(30),
        });
    })
    .await
}

/// `/query` as `token`: status and body.
pub async fn query_as(gw: &TestGateway, token: &str, sql: &str, params: Value) -> (u16, Value) {
    gw.post_as(token, "/query", json!({"sql": sql, "params": params}))
        .await
}

/// The admin's `/query`, which must succeed.
pub async fn admin(gw: &TestGateway, sql: &str) -> Value {
    let (status, body) = query_as(gw, ADMIN, sql, json!([])).await;
    assert_eq!(status, 200, "{sql}: {body}");
    body["result"].clone()
}

/// The client's `/query`.
pub async fn client(gw: &TestGateway, sql: &str, params: Value) -> (u16, Value) {
    query_as(gw, CLIENT, sql, params).await
}

/// A WebSocket request as `token`, answered with one reply frame.
pub async fn ws_ask(gw: &TestGateway, token: &str, request: Value) -> Value {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://{}/socket?token={token}", gw.http);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(request.to_string())).await.unwrap();
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The SQLSTATE of a tokio-postgres error.
pub fn pg_code(err: &tokio_postgres::Error) -> String {
    err.code()
        .map(|c| c.code().to_owned())
        .unwrap_or_else(|| format!("no code: {err}"))
}
