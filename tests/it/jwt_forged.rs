//! Forged and invalid JWTs, each tried on HTTP, WebSocket and pgwire against a gateway that
//! checks RS256 signatures from a JWKS URL, the issuer and the audience: none is accepted,
//! every refusal is 401 / `28P01` or `28000`.

use serde_json::{Value, json};
use starbase::config::{JwtAlgorithm, KeySource};

use crate::common::TestGateway;
use crate::common::jwt::{self, JwksServer, Signer, b64, now};
use crate::common::login::{self, Outcome};
use crate::jwt::settings;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "starbase-api";

fn good(sub: &str) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": [AUDIENCE, "other"], "exp": now() + 300})
}

fn with(key: &str, value: Value) -> Value {
    let mut c = good("u");
    c[key] = value;
    c
}

fn without(key: &str) -> Value {
    let mut c = good("u");
    c.as_object_mut().unwrap().remove(key);
    c
}

/// The corpus: name, token.
fn corpus(key: &Signer) -> Vec<(&'static str, String)> {
    let wrong_key = Signer::rs256_other(&key.kid);
    let valid = key.token(&good("u"));
    let mut no_sig_header = key.header();
    no_sig_header["alg"] = json!("RS256");
    let mut kid_injection = key.header();
    kid_injection["kid"] = json!("../../../../etc/passwd");
    let mut embedded_jwk = wrong_key.header();
    embedded_jwk["jwk"] = wrong_key.jwk();
    vec![
        ("alg none", jwt::unsigned(&good("u"))),
        ("alg none, signature kept", {
            let parts: Vec<&str> = valid.split('.').collect();
            format!("{}.{}.{}", b64(br#"{"alg":"none"}"#), parts[1], parts[2])
        }),
        ("wrong key", wrong_key.token(&good("u"))),
        (
            "wrong key, its JWK embedded in the header",
            wrong_key.sign(&embedded_jwk, &good("u")),
        ),
        (
            "HS256 keyed with the public key",
            jwt::hs256_with_public_key(key, &good("u")),
        ),
        ("expired", key.token(&with("exp", json!(now() - 120)))),
        ("exp missing", key.token(&without("exp"))),
        (
            "nbf in the future",
            key.token(&with("nbf", json!(now() + 600))),
        ),
        (
            "wrong audience",
            key.token(&with("aud", json!("someone-else"))),
        ),
        ("audience missing", key.token(&without("aud"))),
        (
            "wrong issuer",
            key.token(&with("iss", json!("https://evil.test"))),
        ),
        ("sub missing", key.token(&without("sub"))),
        ("sub not a string", key.token(&with("sub", json!(42)))),
        ("tampered payload", jwt::tampered(&valid, &good("admin"))),
        ("tampered signature", {
            let mut t = valid.clone();
            let last = t.pop().unwrap();
            t.push(if last == 'A' { 'B' } else { 'A' });
            t
        }),
        (
            "signature removed",
            format!("{}.", &valid[..valid.rfind('.').unwrap()]),
        ),
        (
            "unknown kid after refetch",
            Signer::rs256("not-in-the-set").token(&good("u")),
        ),
        ("kid path injection", key.sign(&kid_injection, &good("u"))),
        ("garbage", "garbage".to_owned()),
        ("garbage with dots", "a.b.c".to_owned()),
        (
            "base64 garbage",
            format!("{}.{}.{}", b64(b"\xff\xfe"), b64(b"\x00"), b64(b"x")),
        ),
        ("padded base64", format!("{valid}==")),
        // Over the gateway's 8 KiB limit, under pgwire's 10 000-byte password message limit.
        ("oversize", key.token(&with("pad", json!("x".repeat(6300))))),
    ]
}

#[tokio::test]
async fn no_forged_token_is_accepted_on_any_frontend() {
    let key = Signer::rs256("main-key");
    let server = JwksServer::start(&jwt::jwks(&[&key])).await;
    let gw = TestGateway::start_with(|c| {
        let mut s = settings(JwtAlgorithm::Rs256, KeySource::JwksUrl(server.url.clone()));
        s.issuer = Some(ISSUER.into());
        s.audience = Some(AUDIENCE.into());
        c.jwt = Some(s);
    })
    .await;
    // The control: the valid token works everywhere.
    let valid = key.token(&good("u"));
    for outcome in [
        login::http(&gw, &valid).await,
        login::ws(&gw, &valid).await,
        login::pg(&gw, &valid).await,
    ] {
        assert_eq!(outcome, Outcome::Ran);
    }
    let corpus = corpus(&key);
    assert!(corpus.len() >= 20);
    let hits_before = server.hits();
    let mut accepted = Vec::new();
    for (name, token) in &corpus {
        for (frontend, outcome) in [
            ("http", login::http(&gw, token).await),
            ("ws", login::ws(&gw, token).await),
            ("pgwire", login::pg(&gw, token).await),
        ] {
            match &outcome {
                Outcome::Refused(status, code)
                    if (*status == 401 || frontend == "pgwire")
                        && (code == "28P01" || code == "28000") => {}
                other => accepted.push(format!("{name} on {frontend}: {other:?}")),
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "not refused as expected: {accepted:#?}"
    );
    // Larger still: HTTP and WebSocket refuse it as oversize, pgwire's framing refuses the
    // message (the connection closes).
    let huge = key.token(&with("pad", json!("x".repeat(20_000))));
    assert_eq!(
        login::http(&gw, &huge).await,
        Outcome::Refused(401, "28000".into())
    );
    assert_eq!(
        login::ws(&gw, &huge).await,
        Outcome::Refused(401, "28000".into())
    );
    assert_ne!(login::pg(&gw, &huge).await, Outcome::Ran);
    // Unknown kids made the gateway look at the key set again before refusing.
    assert!(server.hits() > hits_before);
    gw.stop().await;
}
