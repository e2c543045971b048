//! Unit tests of JWT verification: algorithms, claim checks, forged tokens, key rotation and
//! the refetch policy, and claims reaching the `Principal`.

use std::time::Duration;

use serde_json::json;

#[path = "../../tests/it/common/jwt.rs"]
mod signer;

use super::jwt::{JwtError, JwtVerifier, MAX_TOKEN_BYTES};
use super::{Authenticator, Role};
use crate::config::{JwtAlgorithm, JwtSettings, KeySource, Secret};
use signer::{Signer, b64, claims, jwks, now};

fn settings(algorithm: JwtAlgorithm, keys: KeySource) -> JwtSettings {
    JwtSettings {
        algorithm,
        keys,
        issuer: None,
        audience: None,
        leeway: Duration::from_secs(30),
        refetch_interval: Duration::ZERO,
    }
}

/// A verifier reading a JWKS file that holds `signers`; the file can be rewritten.
fn file_verifier(
    dir: &tempfile::TempDir,
    algorithm: JwtAlgorithm,
    signers: &[&Signer],
    adjust: impl FnOnce(&mut JwtSettings),
) -> (JwtVerifier, std::path::PathBuf) {
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(signers).to_string()).unwrap();
    let mut s = settings(algorithm, KeySource::JwksFile(path.clone()));
    adjust(&mut s);
    (JwtVerifier::new(&s).unwrap(), path)
}

#[tokio::test]
async fn claims_reach_the_principal_as_a_client() {
    let hs = Signer::hs256(signer::HMAC_SECRET.as_bytes());
    let verifier = JwtVerifier::new(&settings(
        JwtAlgorithm::Hs256,
        KeySource::Secret(Secret::new(signer::HMAC_SECRET.into())),
    ))
    .unwrap();
    let auth =
        Authenticator::new(Secret::new("adm".into()), None).with_jwt(std::sync::Arc::new(verifier));
    let mut c = claims("user-1");
    c["tenant"] = json!("acme");
    let p = auth
        .authenticate_bearer(Some(&format!("Bearer {}", hs.token(&c))))
        .await
        .unwrap();
    assert_eq!(p.role, Role::Client);
    assert_eq!(p.subject(), Some("user-1"));
    assert_eq!(p.claim("tenant"), Some(&json!("acme")));
    // Static tokens keep their roles and carry no claims.
    let admin = auth.authenticate_token("adm").await.unwrap();
    assert_eq!(auth.session_end(&admin), None);
    assert_eq!((admin.role, admin.claims), (Role::Admin, None));
    // A JWT session ends at exp plus the leeway; a static token's never does.
    assert_eq!(
        auth.session_end(&p),
        Some(c["exp"].as_f64().unwrap() + 30.0)
    );
    assert!(!auth.session_expired(&p));
    let mut old = claims("u");
    old["exp"] = json!(now() - 10);
    let p = auth.authenticate_token(&hs.token(&old)).await.unwrap();
    assert!(!auth.session_expired(&p), "within the leeway");
    let mut expired = p.clone();
    expired.claims = Some(std::sync::Arc::new(
        json!({"sub": "u", "exp": now() - 31})
            .as_object()
            .unwrap()
            .clone(),
    ));
    assert!(auth.session_expired(&expired));
    // Neither a token nor a JWT.
    let e = auth.authenticate_token("nope").await.unwrap_err();
    assert_eq!(e.code.as_str(), "28P01");
    let e = auth.authenticate_token("a.b.c").await.unwrap_err();
    assert_eq!(e.code.as_str(), "28000", "{e}");
}

#[tokio::test]
async fn every_asymmetric_algorithm_verifies() {
    for signer in [
        Signer::rs256("r1"),
        Signer::es256("e1"),
        Signer::ed25519("d1"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let alg = match signer.alg() {
            "RS256" => JwtAlgorithm::Rs256,
            "ES256" => JwtAlgorithm::Es256,
            _ => JwtAlgorithm::EdDsa,
        };
        let (v, _) = file_verifier(&dir, alg, &[&signer], |_| {});
        let got = v.verify(&signer.token(&claims("u"))).await.unwrap();
        assert_eq!(got["sub"], "u", "{}", signer.alg());
        // Without a kid the only key is tried.
        let mut header = signer.header();
        header.as_object_mut().unwrap().remove("kid");
        assert!(v.verify(&signer.sign(&header, &claims("u"))).await.is_ok());
    }
}

#[tokio::test]
async fn forged_and_invalid_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = Signer::rs256("k1");
    let (v, _) = file_verifier(&dir, JwtAlgorithm::Rs256, &[&rsa], |s| {
        s.issuer = Some("https://issuer.test".into());
        s.audience = Some("starbase".into());
    });
    let good = |sub: &str| {
        let mut c = claims(sub);
        c["iss"] = json!("https://issuer.test");
        c["aud"] = json!(["other", "starbase"]);
        c
    };
    assert!(v.verify(&rsa.token(&good("u"))).await.is_ok());
    let with = |key: &str, value: serde_json::Value| {
        let mut c = good("u");
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = good("u");
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let other = Signer::rs256_other("k1");
    let mut crit = rsa.header();
    crit["crit"] = json!(["exp"]);
    let cases: Vec<(&str, String, JwtError)> = vec![
        (
            "alg none",
            signer::unsigned(&good("u")),
            JwtError::Algorithm {
                found: "none".into(),
                expected: "RS256",
            },
        ),
        (
            "key confusion",
            signer::hs256_with_public_key(&rsa, &good("u")),
            JwtError::Algorithm {
                found: "HS256".into(),
                expected: "RS256",
            },
        ),
        ("wrong key", other.token(&good("u")), JwtError::BadSignature),
        (
            "tampered",
            signer::tampered(&rsa.token(&good("u")), &good("admin")),
            JwtError::BadSignature,
        ),
        (
            "expired",
            rsa.token(&with("exp", json!(now() - 31))),
            JwtError::Expired,
        ),
        (
            "nbf future",
            rsa.token(&with("nbf", json!(now() + 60))),
            JwtError::NotYetValid,
        ),
        (
            "no exp",
            rsa.token(&without("exp")),
            JwtError::TimeClaim("exp"),
        ),
        (
            "exp string",
            rsa.token(&with("exp", json!("tomorrow"))),
            JwtError::TimeClaim("exp"),
        ),
        (
            "wrong iss",
            rsa.token(&with("iss", json!("https://evil.test"))),
            JwtError::Issuer,
        ),
        ("no iss", rsa.token(&without("iss")), JwtError::Issuer),
        (
            "wrong aud",
            rsa.token(&with("aud", json!("other"))),
            JwtError::Audience,
        ),
        (
            "aud array",
            rsa.token(&with("aud", json!(["x", "y"]))),
            JwtError::Audience,
        ),
        ("no sub", rsa.token(&without("sub")), JwtError::Subject),
        (
            "sub number",
            rsa.token(&with("sub", json!(7))),
            JwtError::Subject,
        ),
        (
            "sub empty",
            rsa.token(&with("sub", json!(""))),
            JwtError::Subject,
        ),
        (
            "unknown kid",
            Signer::rs256("k2").token(&good("u")),
            JwtError::UnknownKey,
        ),
        ("crit", rsa.sign(&crit, &good("u")), JwtError::Critical),
        (
            "two parts",
            "a.b".into(),
            JwtError::Malformed("expected three dot-separated parts"),
        ),
        (
            "padding",
            format!("{}=", rsa.token(&good("u"))),
            JwtError::Malformed("the signature is not base64url"),
        ),
        (
            "not json",
            format!("{}.{}.", b64(b"{"), b64(b"{}")),
            JwtError::Malformed("the header is not JSON"),
        ),
        (
            "array payload",
            format!("{}.{}.", b64(br#"{"alg":"RS256"}"#), b64(b"[]")),
            JwtError::Malformed("the payload is not a JSON object"),
        ),
        (
            "oversize",
            rsa.token(&with("pad", json!("x".repeat(MAX_TOKEN_BYTES)))),
            JwtError::Oversize,
        ),
    ];
    for (name, token, want) in cases {
        assert_eq!(v.verify(&token).await.unwrap_err(), want, "{name}");
    }
    // Within the leeway is still fine.
    assert!(
        v.verify(&rsa.token(&with("exp", json!(now() - 10))))
            .await
            .is_ok()
    );
    assert!(
        v.verify(&rsa.token(&with("nbf", json!(now() + 10))))
            .await
            .is_ok()
    );
    assert!(
        v.verify(&rsa.token(&with("aud", json!("starbase"))))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn rotation_is_picked_up_on_an_unknown_kid() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Signer::es256("old"), Signer::es256("new"));
    let (v, path) = file_verifier(&dir, JwtAlgorithm::Es256, &[&old], |_| {});
    let old_token = old.token(&claims("u"));
    assert!(v.verify(&old_token).await.is_ok());
    assert_eq!(
        v.verify(&new.token(&claims("u"))).await.unwrap_err(),
        JwtError::UnknownKey
    );
    // The set rotates: the new key appears, the old one goes.
    std::fs::write(&path, jwks(&[&new]).to_string()).unwrap();
    // The old key is still cached until something makes the gateway fetch again …
    assert!(v.verify(&old_token).await.is_ok());
    assert!(v.verify(&new.token(&claims("u"))).await.is_ok());
    // … and after that fetch it is gone.
    assert_eq!(
        v.verify(&old_token).await.unwrap_err(),
        JwtError::UnknownKey
    );
}

#[tokio::test]
async fn refetches_are_rate_limited_and_single_flight() {
    let dir = tempfile::tempdir().unwrap();
    let key = Signer::ed25519("k");
    let (v, _) = file_verifier(&dir, JwtAlgorithm::EdDsa, &[&key], |s| {
        s.refetch_interval = Duration::from_secs(30);
    });
    v.preload().await.unwrap();
    assert_eq!(v.fetch_count(), 1);
    let unknown = Signer::ed25519("unknown").token(&claims("u"));
    // The last fetch was just now: an unknown kid does not cause another within 30 s.
    for _ in 0..5 {
        assert_eq!(v.verify(&unknown).await.unwrap_err(), JwtError::UnknownKey);
    }
    assert_eq!(v.fetch_count(), 1);

    // Twenty concurrent requests with an unknown kid share one fetch (an HTTP endpoint on
    // this single-threaded runtime cannot answer before all twenty have asked).
    let server = signer::JwksServer::start(&jwks(&[&key])).await;
    let v = JwtVerifier::new(&settings(
        JwtAlgorithm::EdDsa,
        KeySource::JwksUrl(server.url.clone()),
    ))
    .unwrap();
    v.preload().await.unwrap();
    let results = futures::future::join_all((0..20).map(|_| v.verify(&unknown))).await;
    assert!(results.iter().all(|r| *r == Err(JwtError::UnknownKey)));
    assert_eq!((v.fetch_count(), server.hits()), (2, 2));
    // A later request with a new key triggers a fetch of its own and is accepted.
    let fresh = Signer::ed25519("fresh");
    server.set(&jwks(&[&key, &fresh]));
    assert!(v.verify(&fresh.token(&claims("u"))).await.is_ok());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn an_unreadable_key_set_refuses_tokens_with_28000() {
    let key = Signer::es256("k");
    let v = JwtVerifier::new(&settings(
        JwtAlgorithm::Es256,
        KeySource::JwksFile("/nonexistent/jwks.json".into()),
    ))
    .unwrap();
    let e = v.verify(&key.token(&claims("u"))).await.unwrap_err();
    assert_eq!(e, JwtError::KeySetUnavailable);
    assert_eq!(e.sqlstate().as_str(), "28000");
}
