//! Rate limits per token, per address and for failed logins, on HTTP (429 with
//! `Retry-After`), WebSocket (an error frame, the socket stays open) and pgwire (an
//! ErrorResponse, the connection stays up; FATAL at start-up for failed logins).
//! Limits are small and per minute, so nothing here depends on timing.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use starbase::config::{RateLimit, RateLimits};
use tokio_tungstenite::tungstenite::Message;

use crate::common::login::{self, Outcome};
use crate::common::{ADMIN, CLIENT, TestGateway};

fn per_minute(n: u32) -> Option<RateLimit> {
    Some(RateLimit {
        per_second: f64::from(n) / 60.0,
        burst: n,
    })
}

async fn query(gw: &TestGateway, token: &str) -> reqwest::Response {
    gw.client
        .post(gw.url("/query"))
        .bearer_auth(token)
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await
        .unwrap()
}

async fn assert_429(response: reqwest::Response, fragment: &str) {
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "53400", "{body}");
    assert!(body["error"].as_str().unwrap().contains(fragment), "{body}");
}

#[tokio::test]
async fn http_requests_are_limited_per_token() {
    let gw = TestGateway::start_with(|c| {
        c.rate_limits = RateLimits {
            per_token: per_minute(2),
            ..RateLimits::default()
        };
    })
    .await;
    for _ in 0..2 {
        assert_eq!(query(&gw, CLIENT).await.status().as_u16(), 200);
    }
    assert_429(query(&gw, CLIENT).await, "with this token").await;
    // Another token has its own bucket, and the limit is the same however the token is sent.
    assert_eq!(query(&gw, ADMIN).await.status().as_u16(), 200);
    let bare = gw
        .client
        .post(gw.url("/query"))
        .header("authorization", CLIENT)
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await
        .unwrap();
    assert_429(bare, "with this token").await;
    // The health check is not limited.
    let health = gw.client.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn http_requests_are_limited_per_address() {
    let gw = TestGateway::start_with(|c| {
        c.rate_limits = RateLimits {
            per_addr: per_minute(3),
            ..RateLimits::default()
        };
    })
    .await;
    assert_eq!(query(&gw, ADMIN).await.status().as_u16(), 200);
    assert_eq!(query(&gw, CLIENT).await.status().as_u16(), 200);
    // Unauthenticated requests count too.
    assert_eq!(query(&gw, "wrong").await.status().as_u16(), 401);
    assert_429(query(&gw, ADMIN).await, "from this address").await;
}

#[tokio::test]
async fn failed_logins_lock_the_address_out_on_every_frontend() {
    let gw = TestGateway::start_with(|c| {
        c.rate_limits = RateLimits {
            auth_failures: per_minute(3),
            ..RateLimits::default()
        };
    })
    .await;
    assert_eq!(
        login::http(&gw, "guess-1").await,
        Outcome::Refused(401, "28P01".into())
    );
    assert_eq!(
        login::ws(&gw, "guess-2").await,
        Outcome::Refused(401, "28P01".into())
    );
    assert_eq!(
        login::pg(&gw, "guess-3").await,
        Outcome::Refused(0, "28P01".into())
    );
    // Out of tries: even the right token is refused until the bucket refills.
    assert_429(query(&gw, ADMIN).await, "failed authentication").await;
    assert_eq!(
        login::ws(&gw, ADMIN).await,
        Outcome::Refused(429, "53400".into())
    );
    assert_eq!(
        login::pg(&gw, ADMIN).await,
        Outcome::Refused(0, "53400".into())
    );
}

#[tokio::test]
async fn websocket_messages_count_and_the_socket_stays_open() {
    let gw = TestGateway::start_with(|c| {
        c.rate_limits = RateLimits {
            per_token: per_minute(3),
            ..RateLimits::default()
        };
    })
    .await;
    let url = format!("ws://{}/socket?token={CLIENT}", gw.http);
    // The upgrade is one request, each message another.
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut ask = async |id: u32| -> Value {
        let request = json!({"action": "query", "sql": "SELECT 1 AS one", "id": id});
        ws.send(Message::text(request.to_string())).await.unwrap();
        loop {
            if let Message::Text(text) = ws.next().await.unwrap().unwrap() {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    };
    assert_eq!(ask(1).await, json!({"id": 1, "result": [{"one": 1}]}));
    assert_eq!(ask(2).await, json!({"id": 2, "result": [{"one": 1}]}));
    let refused = ask(3).await;
    assert_eq!(
        (refused["code"].as_str(), refused["id"].as_u64()),
        (Some("53400"), Some(3))
    );
    assert!(
        refused["hint"].as_str().unwrap().starts_with("retry after"),
        "{refused}"
    );
    // Still open: the next message gets an answer too.
    assert_eq!(ask(4).await["code"], "53400");
}

#[tokio::test]
async fn pgwire_queries_count_and_share_the_tokens_bucket_with_http() {
    let gw = TestGateway::start_with(|c| {
        c.rate_limits = RateLimits {
            per_token: per_minute(4),
            ..RateLimits::default()
        };
    })
    .await;
    assert_eq!(query(&gw, ADMIN).await.status().as_u16(), 200);
    assert_eq!(query(&gw, ADMIN).await.status().as_u16(), 200);
    // SCRAM never shows the token, yet the session counts against the admin token's bucket.
    let client = gw.pg_client().await;
    client.simple_query("SELECT 1").await.unwrap();
    client
        .simple_query("CREATE TABLE t (x INT); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "53400", "{e}");
    let e = client.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "53400", "{e}");
    assert!(!client.is_closed(), "the connection stays up");
    // Another token's session is not affected.
    let other = gw.pg_client_as(CLIENT).await;
    other.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn a_refused_query_inside_a_transaction_leaves_the_transaction_as_it_was() {
    // JWT auth on: loopback connections log in with cleartext passwords, which this raw
    // client speaks.
    let gw = TestGateway::start_with(|c| {
        c.jwt = Some(crate::jwt::settings(
            starbase::config::JwtAlgorithm::Hs256,
            starbase::config::KeySource::Secret(starbase::config::Secret::new(
                crate::common::jwt::HMAC_SECRET.into(),
            )),
        ));
        c.rate_limits = RateLimits {
            per_token: per_minute(3),
            ..RateLimits::default()
        };
    })
    .await;
    let admin = gw.pg_client().await;
    admin.simple_query("CREATE TABLE t (x INT)").await.unwrap();
    let mut raw = login::pg_session(&gw, CLIENT).await;
    assert_eq!(login::raw_query(&mut raw, "BEGIN").await, (None, 'T'));
    assert_eq!(
        login::raw_query(&mut raw, "INSERT INTO t VALUES (1)").await,
        (None, 'T')
    );
    assert_eq!(
        login::raw_query(&mut raw, "INSERT INTO t VALUES (2)").await,
        (None, 'T')
    );
    // Refused, not run, and the transaction is still open and healthy ('T', not 'E').
    assert_eq!(
        login::raw_query(&mut raw, "INSERT INTO t VALUES (3)").await,
        (Some("53400".into()), 'T')
    );
    let rows = admin
        .query("SELECT count(*)::int4 FROM t", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 0, "nothing committed yet");
}

#[tokio::test]
async fn failed_logins_through_the_wire_proxy_count_too() {
    let Some(target) = crate::common::external::local_postgres_target().await else {
        return;
    };
    let gw = TestGateway::start_with_proxy_and(
        |c| {
            c.rate_limits = RateLimits {
                auth_failures: per_minute(2),
                ..RateLimits::default()
            };
        },
        vec![target],
    )
    .await;
    let proxied = |password: &str| {
        format!(
            "host=127.0.0.1 port={} user=anyone password={password} dbname=external",
            gw.pg.port()
        )
    };
    let code = |r: Result<_, tokio_postgres::Error>| {
        r.err().and_then(|e| e.code().map(|c| c.code().to_owned()))
    };
    let attempt = async |password: &str| {
        code(tokio_postgres::connect(&proxied(password), tokio_postgres::NoTls).await)
    };
    assert_eq!(attempt("guess-1").await.as_deref(), Some("28P01"));
    assert_eq!(attempt("guess-2").await.as_deref(), Some("28P01"));
    assert_eq!(attempt(ADMIN).await.as_deref(), Some("53400"));
    // The same address is locked out of the embedded database as well.
    assert_eq!(
        login::pg(&gw, ADMIN).await,
        Outcome::Refused(0, "53400".into())
    );
}
