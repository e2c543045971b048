//! Test-only JWT signing with `ring`: RS256 (from the RSA fixtures in `tests/fixtures/jwt`),
//! ES256 and Ed25519 (keys generated per test) and HS256; also included by the library's unit
//! tests. Builds forged tokens too, byte for byte.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};

const RSA_KEY: &[u8] = include_bytes!("../../fixtures/jwt/rsa_test_key.pkcs1.der");
const RSA_JWK: &str = include_str!("../../fixtures/jwt/rsa_test_key.public.jwk.json");
const RSA_KEY2: &[u8] = include_bytes!("../../fixtures/jwt/rsa_test_key2.pkcs1.der");
const RSA_JWK2: &str = include_str!("../../fixtures/jwt/rsa_test_key2.public.jwk.json");

/// An HS256 secret long enough for the gateway (32 bytes or more).
pub const HMAC_SECRET: &str = "test-hmac-secret-that-is-long-enough-0123456789";

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Claims valid for five minutes for subject `sub`.
pub fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iat": now(), "exp": now() + 300})
}

enum Key {
    Rsa(RsaKeyPair, Value),
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Hs256(Vec<u8>),
}

/// A signing key and its `kid`.
pub struct Signer {
    key: Key,
    /// The `kid` put in headers and the JWK.
    pub kid: String,
}

impl Signer {
    /// The first RSA fixture key.
    pub fn rs256(kid: &str) -> Self {
        Self::rsa(RSA_KEY, RSA_JWK, kid)
    }

    /// The second RSA fixture key.
    pub fn rs256_other(kid: &str) -> Self {
        Self::rsa(RSA_KEY2, RSA_JWK2, kid)
    }

    fn rsa(der: &[u8], jwk: &str, kid: &str) -> Self {
        Self {
            key: Key::Rsa(
                RsaKeyPair::from_der(der).unwrap(),
                serde_json::from_str(jwk).unwrap(),
            ),
            kid: kid.to_owned(),
        }
    }

    /// A fresh P-256 key.
    pub fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Self {
            key: Key::Es256(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()),
            kid: kid.to_owned(),
        }
    }

    /// A fresh Ed25519 key.
    pub fn ed25519(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self {
            key: Key::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()),
            kid: kid.to_owned(),
        }
    }

    /// An HMAC key.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: Key::Hs256(secret.to_vec()),
            kid: String::new(),
        }
    }

    /// The header `alg` of this key.
    pub fn alg(&self) -> &'static str {
        match self.key {
            Key::Rsa(..) => "RS256",
            Key::Es256(_) => "ES256",
            Key::Ed25519(_) => "EdDSA",
            Key::Hs256(_) => "HS256",
        }
    }

    /// The public JWK (with `kid`, `alg` and `use`).
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.key {
            Key::Rsa(_, jwk) => jwk.clone(),
            Key::Es256(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
            Key::Ed25519(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
            Key::Hs256(secret) => json!({"kty": "oct", "k": b64(secret)}),
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The signature of `input`.
    pub fn signature(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Rsa(k, _) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .unwrap();
                sig
            }
            Key::Es256(k) => k.sign(&rng, input).unwrap().as_ref().to_vec(),
            Key::Ed25519(k) => k.sign(input).as_ref().to_vec(),
            Key::Hs256(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::sign(&key, input).as_ref().to_vec()
            }
        }
    }

    /// A token with exactly this header and these claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.signature(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// The usual header: `alg`, `typ` and (when set) `kid`.
    pub fn header(&self) -> Value {
        let mut h = json!({"alg": self.alg(), "typ": "JWT"});
        if !self.kid.is_empty() {
            h["kid"] = json!(self.kid);
        }
        h
    }

    /// A valid token for these claims.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }
}

/// A JWKS document holding these keys.
pub fn jwks(signers: &[&Signer]) -> Value {
    json!({"keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>()})
}

/// A token with header `alg: none` and no signature.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// An HS256 token whose HMAC key is the RSA key's public JWK text: the key-confusion attack
/// on verifiers that pick the algorithm from the header.
pub fn hs256_with_public_key(rsa: &Signer, claims: &Value) -> String {
    let confused = Signer::hs256(rsa.jwk().to_string().as_bytes());
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": rsa.kid});
    confused.sign(&header, claims)
}

/// `token` with its payload replaced by `claims` (the signature kept).
pub fn tampered(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// A JWKS endpoint on 127.0.0.1 port 0 whose document can be swapped (key rotation) and
/// which counts the fetches it answered.
pub struct JwksServer {
    /// `http://127.0.0.1:port/jwks.json`
    pub url: String,
    document: std::sync::Arc<std::sync::Mutex<String>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Serves `document`.
    pub async fn start(document: &Value) -> Self {
        use std::sync::atomic::Ordering;
        let doc = std::sync::Arc::new(std::sync::Mutex::new(document.to_string()));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (d, h) = (doc.clone(), hits.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (d, h) = (d.clone(), h.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = d.lock().unwrap().clone();
                    ([("content-type", "application/json")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            document: doc,
            hits,
            task,
        }
    }

    /// Serves `document` from now on.
    pub fn set(&self, document: &Value) {
        *self.document.lock().unwrap() = document.to_string();
    }

    /// Fetches answered so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
