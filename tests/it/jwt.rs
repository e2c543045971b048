//! JWT auth end to end: each algorithm (RS256 and EdDSA from a JWKS URL, ES256 from a JWKS
//! file, HS256 from a secret) is accepted on HTTP (Bearer), WebSocket (`?token=`) and pgwire
//! (the password, as cleartext on loopback) as the client role; the key set rotates under a
//! running gateway.

use std::time::Duration;

use serde_json::json;
use starbase::config::{JwtAlgorithm, JwtSettings, KeySource, Secret};

use crate::common::jwt::{HMAC_SECRET, JwksServer, Signer, claims, jwks};
use crate::common::login::{self, Outcome};
use crate::common::{ADMIN, TestGateway};

pub fn settings(algorithm: JwtAlgorithm, keys: KeySource) -> JwtSettings {
    JwtSettings {
        algorithm,
        keys,
        issuer: None,
        audience: None,
        leeway: Duration::from_secs(30),
        refetch_interval: Duration::ZERO,
    }
}

async fn accepted_everywhere(gw: &TestGateway, token: &str, what: &str) {
    assert_eq!(
        login::http(gw, token).await,
        Outcome::Ran,
        "{what} over HTTP"
    );
    assert_eq!(
        login::ws(gw, token).await,
        Outcome::Ran,
        "{what} over WebSocket"
    );
    assert_eq!(
        login::pg(gw, token).await,
        Outcome::Ran,
        "{what} over pgwire"
    );
    // pgwire asked for a cleartext password (a JWT cannot go through SCRAM) and the session
    // is a client's, not the admin's.
    let (method, params) = login::pg_raw(gw, token).await;
    assert_eq!(method, 3, "{what}: cleartext password requested");
    assert_eq!(params.unwrap()["is_superuser"], "off", "{what}");
}

#[tokio::test]
async fn every_algorithm_is_accepted_on_every_frontend_as_a_client() {
    let rsa = Signer::rs256("rsa-1");
    let ed = Signer::ed25519("ed-1");
    let es = Signer::es256("es-1");
    let rsa_server = JwksServer::start(&jwks(&[&rsa])).await;
    let ed_server = JwksServer::start(&jwks(&[&ed])).await;
    let dir = tempfile::tempdir().unwrap();
    let es_file = dir.path().join("jwks.json");
    std::fs::write(&es_file, jwks(&[&es]).to_string()).unwrap();
    let hs = Signer::hs256(HMAC_SECRET.as_bytes());
    let cases = [
        (
            &rsa,
            settings(
                JwtAlgorithm::Rs256,
                KeySource::JwksUrl(rsa_server.url.clone()),
            ),
        ),
        (
            &ed,
            settings(
                JwtAlgorithm::EdDsa,
                KeySource::JwksUrl(ed_server.url.clone()),
            ),
        ),
        (
            &es,
            settings(JwtAlgorithm::Es256, KeySource::JwksFile(es_file.clone())),
        ),
        (
            &hs,
            settings(
                JwtAlgorithm::Hs256,
                KeySource::Secret(Secret::new(HMAC_SECRET.into())),
            ),
        ),
    ];
    for (signer, settings) in cases {
        let gw = TestGateway::start_with(|c| c.jwt = Some(settings)).await;
        let mut c = claims("user-7");
        c["aud"] = json!("anything");
        accepted_everywhere(&gw, &signer.token(&c), signer.alg()).await;
        // The static tokens still work, the admin's still as admin.
        let (method, params) = login::pg_raw(&gw, ADMIN).await;
        assert_eq!(
            (method, params.unwrap()["is_superuser"].as_str()),
            (3, "on")
        );
        assert_eq!(login::http(&gw, ADMIN).await, Outcome::Ran);
        gw.stop().await;
    }
    // Each JWKS was fetched once at start-up and then served from the cache.
    assert_eq!((rsa_server.hits(), ed_server.hits()), (1, 1));
}

#[tokio::test]
async fn without_jwt_auth_pgwire_keeps_scram_and_refuses_jwts() {
    let gw = TestGateway::start().await;
    let token = Signer::hs256(HMAC_SECRET.as_bytes()).token(&claims("u"));
    let (method, _) = login::pg_raw(&gw, &token).await;
    assert_eq!(method, 10, "SASL (SCRAM) is offered");
    assert_eq!(login::pg(&gw, ADMIN).await, Outcome::Ran);
    assert_eq!(
        login::pg(&gw, &token).await,
        Outcome::Refused(0, "28P01".into())
    );
    assert_eq!(
        login::http(&gw, &token).await,
        Outcome::Refused(401, "28P01".into())
    );
}

#[tokio::test]
async fn a_rotated_key_set_is_picked_up_over_http() {
    let (old, new) = (Signer::es256("2026-old"), Signer::es256("2026-new"));
    let rsa = Signer::rs256("2026-old");
    let server = JwksServer::start(&jwks(&[&old])).await;
    let gw = TestGateway::start_with(|c| {
        c.jwt = Some(settings(
            JwtAlgorithm::Es256,
            KeySource::JwksUrl(server.url.clone()),
        ));
    })
    .await;
    let old_token = old.token(&claims("u"));
    let new_token = new.token(&claims("u"));
    assert_eq!(login::http(&gw, &old_token).await, Outcome::Ran);
    assert_eq!(
        login::http(&gw, &new_token).await,
        Outcome::Refused(401, "28P01".into())
    );
    // An RS256 token is refused before any key is looked at: the gateway expects ES256.
    assert_eq!(
        login::http(&gw, &rsa.token(&claims("u"))).await,
        Outcome::Refused(401, "28P01".into())
    );
    let before = server.hits();
    // Rotation: the new key appears, the old one is removed.
    server.set(&jwks(&[&new]));
    assert_eq!(
        login::http(&gw, &new_token).await,
        Outcome::Ran,
        "accepted after a refetch"
    );
    assert_eq!(server.hits(), before + 1);
    assert_eq!(login::ws(&gw, &new_token).await, Outcome::Ran);
    assert_eq!(login::pg(&gw, &new_token).await, Outcome::Ran);
    assert_eq!(
        login::http(&gw, &old_token).await,
        Outcome::Refused(401, "28P01".into()),
        "the removed key no longer verifies"
    );
    gw.stop().await;
}

#[tokio::test]
async fn sessions_opened_with_a_jwt_end_when_it_expires() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let signer = Signer::hs256(HMAC_SECRET.as_bytes());
    let gw = TestGateway::start_with(|c| {
        let mut s = settings(
            JwtAlgorithm::Hs256,
            KeySource::Secret(Secret::new(HMAC_SECRET.into())),
        );
        s.leeway = Duration::ZERO;
        c.jwt = Some(s);
    })
    .await;
    let mut c = claims("short-lived");
    c["exp"] = json!(crate::common::jwt::now() + 2);
    let token = signer.token(&c);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/socket?token={token}", gw.http))
            .await
            .unwrap();
    let pg = gw.pg_client_as(&token).await;
    pg.simple_query("SELECT 1").await.unwrap();
    // The admin's session is not affected by anything below.
    let admin = gw.pg_client().await;
    // Not a readiness wait: the token has to expire.
    tokio::time::sleep(Duration::from_secs(3)).await;
    ws.send(Message::text(json!({"sql": "SELECT 1"}).to_string()))
        .await
        .unwrap();
    let mut got_error = false;
    let mut closed_with = None;
    while let Some(Ok(frame)) = ws.next().await {
        match frame {
            Message::Text(text) => {
                let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(v["code"], "28P01", "{v}");
                got_error = true;
            }
            Message::Close(frame) => {
                closed_with = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    assert!(got_error);
    assert_eq!(closed_with, Some(1008));
    let e = pg.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("28P01"), "{e}");
    // The server closed the session: the next query finds it closed (whether or not the
    // client's connection task has read the end of the stream yet).
    let again = pg.simple_query("SELECT 1").await.unwrap_err();
    assert!(again.is_closed(), "{again}");
    admin.simple_query("SELECT 1").await.unwrap();
    // A fresh token works again.
    assert_eq!(
        login::pg(&gw, &signer.token(&claims("short-lived"))).await,
        Outcome::Ran
    );
}
