//! JWT verification: compact JWS tokens signed with the one configured algorithm.
//!
//! Owns decoding a token (strict base64url, JSON header and payload, a size limit), the
//! header checks (`alg` must equal the configured algorithm, so `none` and HS256-with-an-RSA-key
//! confusion fail before any key is used; `crit` is refused), the signature check against the
//! key store, and the claim checks (`exp` required, `nbf`, with leeway; `iss` and `aud` when
//! configured; `sub` a non-empty string). Errors say what failed without echoing the token.
//! Must not know where the token came from or what the claims are used for.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use starbase_protocol::{DbError, SqlState};

use super::Claims;
use super::jwks::{KeyStore, Lookup};
use crate::config::{JwtAlgorithm, JwtSettings};

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtError {
    /// Not a compact JWS: parts, base64url or JSON (`28000`).
    #[error("invalid token: {0}")]
    Malformed(&'static str),
    /// Over [`MAX_TOKEN_BYTES`] (`28000`).
    #[error("invalid token: longer than {MAX_TOKEN_BYTES} bytes")]
    Oversize,
    /// The header names another algorithm (`28P01`).
    #[error(
        "invalid token: algorithm \"{found}\" is not accepted, the gateway expects \"{expected}\""
    )]
    Algorithm {
        /// What the header said (cut to 32 characters).
        found: String,
        /// The configured algorithm.
        expected: &'static str,
    },
    /// The header has a `crit` list (`28P01`).
    #[error("invalid token: critical header parameters are not supported")]
    Critical,
    /// No key with the token's `kid`, even after fetching the key set again (`28P01`).
    #[error("invalid token: no key with this \"kid\" in the key set")]
    UnknownKey,
    /// No key verified the signature (`28P01`).
    #[error("invalid token: signature verification failed")]
    BadSignature,
    /// `exp` is in the past (`28P01`).
    #[error("invalid token: the token has expired")]
    Expired,
    /// `nbf` is in the future (`28P01`).
    #[error("invalid token: the token is not valid yet")]
    NotYetValid,
    /// `exp` missing, or a time claim that is not a number (`28P01`).
    #[error("invalid token: claim \"{0}\" is missing or not a number")]
    TimeClaim(&'static str),
    /// `iss` differs from `AUTH_JWT_ISSUER` (`28P01`).
    #[error("invalid token: claim \"iss\" does not name the expected issuer")]
    Issuer,
    /// `aud` does not contain `AUTH_JWT_AUDIENCE` (`28P01`).
    #[error("invalid token: claim \"aud\" does not name the expected audience")]
    Audience,
    /// `sub` missing, empty or not a string (`28P01`).
    #[error("invalid token: claim \"sub\" is missing or not a string")]
    Subject,
    /// The key set could never be loaded (`28000`; the reason is logged).
    #[error("invalid token: the key set is not available")]
    KeySetUnavailable,
}

impl JwtError {
    /// `28000` for tokens that cannot be read and when no keys are available, `28P01` for
    /// tokens that fail verification.
    #[must_use]
    pub fn sqlstate(&self) -> SqlState {
        match self {
            JwtError::Malformed(_) | JwtError::Oversize | JwtError::KeySetUnavailable => {
                SqlState::INVALID_AUTHORIZATION
            }
            _ => SqlState::INVALID_PASSWORD,
        }
    }

    /// The client-facing error.
    #[must_use]
    pub fn to_db_error(&self) -> DbError {
        DbError::new(self.sqlstate(), self.to_string())
    }
}

/// A decoded, not yet verified token.
struct Decoded<'a> {
    alg: String,
    kid: Option<String>,
    claims: Claims,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(what))
}

fn decode(token: &str) -> Result<Decoded<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Oversize);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let header: Value = serde_json::from_slice(&b64(header, "the header is not base64url")?)
        .map_err(|_| JwtError::Malformed("the header is not JSON"))?;
    let header = header
        .as_object()
        .ok_or(JwtError::Malformed("the header is not a JSON object"))?;
    let claims: Value = serde_json::from_slice(&b64(payload, "the payload is not base64url")?)
        .map_err(|_| JwtError::Malformed("the payload is not JSON"))?;
    let Value::Object(claims) = claims else {
        return Err(JwtError::Malformed("the payload is not a JSON object"));
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwtError::Malformed("the header has no \"alg\""))?;
    if header.contains_key("crit") {
        return Err(JwtError::Critical);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("\"kid\" is not a string")),
    };
    Ok(Decoded {
        alg: alg.chars().take(32).collect(),
        kid,
        claims,
        signing_input: &token[..token.rfind('.').unwrap_or(0)],
        signature: b64(signature, "the signature is not base64url")?,
    })
}

/// Verifies JWTs against the configured keys and claims.
#[derive(Debug)]
pub struct JwtVerifier {
    algorithm: JwtAlgorithm,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    keys: KeyStore,
}

impl JwtVerifier {
    /// A verifier for `settings`; keys are fetched on first use (or by [`Self::preload`]).
    ///
    /// # Errors
    /// `22023` when the HTTP client for the key set cannot be built.
    pub fn new(settings: &JwtSettings) -> Result<Self, DbError> {
        let keys = KeyStore::new(
            settings.algorithm,
            &settings.keys,
            settings.refetch_interval,
        )
        .map_err(DbError::invalid_parameter)?;
        Ok(Self {
            algorithm: settings.algorithm,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway,
            keys,
        })
    }

    /// Loads the key set now, so a wrong endpoint shows in the log at start-up.
    ///
    /// # Errors
    /// `28000` when it cannot be loaded (requests will try again).
    pub async fn preload(&self) -> Result<(), DbError> {
        self.keys
            .current()
            .await
            .map(|_| ())
            .map_err(|e| e.to_db_error())
    }

    /// When a session authenticated with these verified `claims` stops being valid: `exp`
    /// plus the leeway, in seconds since the epoch.
    #[must_use]
    pub fn session_end(&self, claims: &Claims) -> Option<f64> {
        claims
            .get("exp")
            .and_then(Value::as_f64)
            .map(|exp| exp + self.leeway.as_secs_f64())
    }

    /// How many times the key set was fetched.
    #[must_use]
    pub fn fetch_count(&self) -> u64 {
        self.keys.fetch_count()
    }

    /// Verifies `token` now and returns its claims.
    ///
    /// # Errors
    /// A [`JwtError`]: `28000` for an unreadable token, `28P01` for one that fails a check.
    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        self.verify_at(token, unix_now()).await
    }

    /// Verifies `token` as of `now` (seconds since the epoch).
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub async fn verify_at(&self, token: &str, now: f64) -> Result<Claims, JwtError> {
        let decoded = decode(token)?;
        if decoded.alg != self.algorithm.as_str() {
            return Err(JwtError::Algorithm {
                found: decoded.alg,
                expected: self.algorithm.as_str(),
            });
        }
        let message = decoded.signing_input.as_bytes();
        let (generation, keys) = self.keys.current().await?;
        let kid = decoded.kid.as_deref();
        let mut lookup = keys.verify(kid, message, &decoded.signature);
        if matches!(lookup, Lookup::Unknown)
            && let Some(newer) = self.keys.refetch_after(generation).await
        {
            lookup = newer.verify(kid, message, &decoded.signature);
        }
        match lookup {
            Lookup::Verified => {}
            Lookup::BadSignature => return Err(JwtError::BadSignature),
            Lookup::Unknown => return Err(JwtError::UnknownKey),
        }
        self.check_claims(&decoded.claims, now)?;
        Ok(decoded.claims)
    }

    /// The claim checks, after the signature was verified.
    fn check_claims(&self, claims: &Claims, now: f64) -> Result<(), JwtError> {
        let leeway = self.leeway.as_secs_f64();
        let time = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or(JwtError::TimeClaim(name)),
        };
        let exp = time("exp")?.ok_or(JwtError::TimeClaim("exp"))?;
        if now > exp + leeway {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = time("nbf")?
            && now + leeway < nbf
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(JwtError::Issuer);
        }
        if let Some(audience) = &self.audience {
            let matches = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !matches {
                return Err(JwtError::Audience);
            }
        }
        match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => Ok(()),
            _ => Err(JwtError::Subject),
        }
    }
}

/// Seconds since the epoch, now.
#[must_use]
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether `token` has a JWT's shape (three dot-separated parts), so a wrong static token
/// gets the plain "invalid token" answer.
#[must_use]
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}
