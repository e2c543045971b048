//! Verification keys for JWTs: a JSON Web Key Set (from an `http(s)` URL or a file) or the
//! HMAC secret, cached, and fetched again when a token names an unknown `kid`.
//!
//! Owns parsing JWKs into `ring` public keys for the configured algorithm (keys for other
//! algorithms are skipped), the cache, and the refetch policy: single-flight (one fetch at a
//! time, concurrent requests wait for it and use its result) and rate-limited (at most one
//! fetch per `refetch_interval` caused by unknown `kid`s; the set is also refreshed once it
//! is older than `MAX_KEY_AGE`). Keys never come from a token (`jku`, `x5u`, `jwk` headers
//! are ignored). Must not know token syntax or claims.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::Value;
use tokio::time::Instant;

use super::jwt::JwtError;
use crate::config::{JwtAlgorithm, KeySource};

/// A cached key set is refreshed once it is this old (so a removed key stops working even if
/// no token names an unknown `kid`).
const MAX_KEY_AGE: Duration = Duration::from_secs(300);
/// How long one fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest key set document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Most keys used from one set.
const MAX_KEYS: usize = 100;
/// While no key set was ever loaded, fetches are at least this far apart.
const INITIAL_RETRY: Duration = Duration::from_secs(1);

/// One public key (or the HMAC secret), ready to verify signatures.
enum VerifyKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
    Hmac(ring::hmac::Key),
}

impl VerifyKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            VerifyKey::Ec(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            VerifyKey::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, signature)
                .is_ok(),
            VerifyKey::Hmac(key) => ring::hmac::verify(key, message, signature).is_ok(),
        }
    }
}

/// A key and its `kid`.
struct Key {
    kid: Option<String>,
    key: VerifyKey,
}

/// The keys of one fetched set.
#[derive(Default)]
pub(super) struct KeySet {
    keys: Vec<Key>,
}

/// What looking a `kid` up found.
pub(super) enum Lookup {
    /// A key with this `kid` (or, for a token without one, some key) verified the signature.
    Verified,
    /// There were candidate keys but none verified the signature.
    BadSignature,
    /// No key has this `kid`.
    Unknown,
}

impl KeySet {
    /// Tries the keys with `kid` (every key when the token has none) on the signature.
    pub(super) fn verify(&self, kid: Option<&str>, message: &[u8], signature: &[u8]) -> Lookup {
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .peekable();
        if candidates.peek().is_none() {
            return Lookup::Unknown;
        }
        if candidates.any(|k| k.key.verify(message, signature)) {
            Lookup::Verified
        } else {
            Lookup::BadSignature
        }
    }

    /// Number of usable keys.
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Parses a JWKS document, keeping the keys usable with `algorithm`.
    ///
    /// # Errors
    /// When the document is not JSON with a `keys` array.
    pub(super) fn parse(document: &[u8], algorithm: JwtAlgorithm) -> Result<Self, String> {
        let json: Value = serde_json::from_slice(document).map_err(|e| format!("not JSON: {e}"))?;
        let keys = json
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no \"keys\" array")?;
        let keys = keys
            .iter()
            .filter_map(|jwk| match parse_jwk(jwk, algorithm) {
                Ok(key) => key,
                Err(why) => {
                    tracing::warn!(kid = ?jwk.get("kid"), %why, "skipping an unusable JWKS key");
                    None
                }
            })
            .take(MAX_KEYS)
            .collect();
        Ok(Self { keys })
    }
}

/// One JWK: `Ok(None)` when it is for another algorithm or not for signatures.
fn parse_jwk(jwk: &Value, algorithm: JwtAlgorithm) -> Result<Option<Key>, String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig")
        || field("alg").is_some_and(|a| a != algorithm.as_str())
    {
        return Ok(None);
    }
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        let text = field(name).ok_or_else(|| format!("\"{name}\" is missing"))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("\"{name}\" is not base64url"))
    };
    let key = match (algorithm, field("kty"), field("crv")) {
        (JwtAlgorithm::Rs256, Some("RSA"), _) => {
            let strip = |v: Vec<u8>| v.into_iter().skip_while(|b| *b == 0).collect::<Vec<u8>>();
            VerifyKey::Rsa {
                n: strip(bytes("n")?),
                e: strip(bytes("e")?),
            }
        }
        (JwtAlgorithm::Es256, Some("EC"), Some("P-256")) => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 coordinates must be 32 bytes".to_owned());
            }
            let mut point = vec![0x04];
            point.extend(x);
            point.extend(y);
            VerifyKey::Ec(point)
        }
        (JwtAlgorithm::EdDsa, Some("OKP"), Some("Ed25519")) => {
            let x = bytes("x")?;
            if x.len() != 32 {
                return Err("an Ed25519 key must be 32 bytes".to_owned());
            }
            VerifyKey::Ed25519(x)
        }
        _ => return Ok(None),
    };
    Ok(Some(Key {
        kid: field("kid").map(str::to_owned),
        key,
    }))
}

/// Where a store gets its keys.
enum Source {
    /// Fixed keys (the HMAC secret).
    Fixed,
    /// A URL, fetched with this client.
    Url(reqwest::Client, String),
    /// A file, read again on every fetch.
    File(PathBuf),
}

/// Fetch bookkeeping, behind the single-flight lock.
#[derive(Default)]
struct FetchState {
    /// When the last fetch was tried.
    last_attempt: Option<Instant>,
}

/// The current keys and when they were fetched (`None`: never, or fixed keys).
struct Loaded {
    set: Arc<KeySet>,
    at: Option<Instant>,
}

/// The cached keys and the policy for fetching them again.
pub(super) struct KeyStore {
    algorithm: JwtAlgorithm,
    source: Source,
    keys: RwLock<Loaded>,
    generation: AtomicU64,
    fetch: tokio::sync::Mutex<FetchState>,
    refetch_interval: Duration,
    fetches: AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("algorithm", &self.algorithm)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// A store for `keys`; nothing is fetched yet.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub(super) fn new(
        algorithm: JwtAlgorithm,
        keys: &KeySource,
        refetch_interval: Duration,
    ) -> Result<Self, String> {
        let (source, fixed) = match keys {
            KeySource::Secret(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
                let set = KeySet {
                    keys: vec![Key {
                        kid: None,
                        key: VerifyKey::Hmac(key),
                    }],
                };
                (Source::Fixed, set)
            }
            KeySource::JwksUrl(url) => {
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .connect_timeout(FETCH_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::limited(3))
                    .build()
                    .map_err(|e| format!("building the HTTP client: {e}"))?;
                (Source::Url(client, url.clone()), KeySet::default())
            }
            KeySource::JwksFile(path) => (Source::File(path.clone()), KeySet::default()),
        };
        Ok(Self {
            algorithm,
            source,
            keys: RwLock::new(Loaded {
                set: Arc::new(fixed),
                at: None,
            }),
            generation: AtomicU64::new(0),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
            refetch_interval,
            fetches: AtomicU64::new(0),
        })
    }

    /// How many times the key set was fetched (tests watch the refetch policy with it).
    pub(super) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> (u64, Arc<KeySet>) {
        let keys = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner).set);
        (self.generation.load(Ordering::Acquire), keys)
    }

    fn loaded_at(&self) -> Option<Instant> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).at
    }

    /// The current keys, loading them first if none were ever loaded and refreshing them
    /// when older than `MAX_KEY_AGE` (a failed refresh keeps the old ones).
    ///
    /// # Errors
    /// `KeySet` when no key set could ever be loaded.
    pub(super) async fn current(&self) -> Result<(u64, Arc<KeySet>), JwtError> {
        if matches!(self.source, Source::Fixed) {
            return Ok(self.snapshot());
        }
        let fresh = |at: Option<Instant>| at.is_some_and(|at| at.elapsed() < MAX_KEY_AGE);
        if fresh(self.loaded_at()) {
            return Ok(self.snapshot());
        }
        let mut state = self.fetch.lock().await;
        let loaded_at = self.loaded_at();
        let gap = if loaded_at.is_none() {
            INITIAL_RETRY.min(self.refetch_interval)
        } else {
            self.refetch_interval
        };
        let may_fetch = state.last_attempt.is_none_or(|at| at.elapsed() >= gap);
        if !fresh(loaded_at)
            && may_fetch
            && let Err(why) = self.fetch_locked(&mut state).await
        {
            tracing::warn!(%why, "fetching the JWKS failed");
        }
        if self.loaded_at().is_none() {
            return Err(JwtError::KeySetUnavailable);
        }
        Ok(self.snapshot())
    }

    /// After a token named a `kid` missing from the keys of `seen` generation: fetches the set
    /// again unless another request already did or the last fetch was too recent. Returns
    /// the newer keys, or `None` when nothing changed.
    pub(super) async fn refetch_after(&self, seen: u64) -> Option<Arc<KeySet>> {
        if matches!(self.source, Source::Fixed) {
            return None;
        }
        let mut state = self.fetch.lock().await;
        let (generation, keys) = self.snapshot();
        if generation != seen {
            return Some(keys);
        }
        if state
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.refetch_interval)
        {
            return None;
        }
        match self.fetch_locked(&mut state).await {
            Ok(()) => Some(self.snapshot().1),
            Err(why) => {
                tracing::warn!(%why, "fetching the JWKS failed");
                None
            }
        }
    }

    async fn fetch_locked(&self, state: &mut FetchState) -> Result<(), String> {
        state.last_attempt = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let document = match &self.source {
            Source::Fixed => return Ok(()),
            Source::Url(client, url) => fetch_url(client, url).await?,
            Source::File(path) => read_file(path).await?,
        };
        let set = KeySet::parse(&document, self.algorithm)?;
        if set.len() == 0 {
            tracing::warn!(
                algorithm = self.algorithm.as_str(),
                "the JWKS has no key usable with the configured algorithm"
            );
        }
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Loaded {
            set: Arc::new(set),
            at: Some(Instant::now()),
        };
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

async fn fetch_url(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("requesting the key set: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "the key set endpoint answered {}",
            response.status()
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the key set: {e}"))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    if meta.len() > MAX_JWKS_BYTES as u64 {
        return Err(format!(
            "{} is larger than {MAX_JWKS_BYTES} bytes",
            path.display()
        ));
    }
    tokio::fs::read(path)
        .await
        .map_err(|e| format!("reading {}: {e}", path.display()))
}
