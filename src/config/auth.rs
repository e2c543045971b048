//! Authentication and rate-limit settings: JWT verification (StarbaseDB's `AUTH_*`
//! variables) and the token buckets per token, per address and for failed logins.
//!
//! Owns `JwtSettings`, `JwtAlgorithm`, `KeySource`, `RateLimit`, `RateLimits` and how they are
//! read from the layers. Must not know how tokens are verified or requests are counted.

use std::time::Duration;

use super::layers::{
    AUTH_ALGORITHM, AUTH_JWKS_ENDPOINT, AUTH_JWT_AUDIENCE, AUTH_JWT_ISSUER, AUTH_JWT_SECRET,
    JWKS_REFETCH_INTERVAL, JWT_LEEWAY, RATE_LIMIT_AUTH_FAILURES, RATE_LIMIT_PER_ADDR,
    RATE_LIMIT_PER_TOKEN, Sources,
};
use super::{ConfigError, Secret, parse};

/// Clock skew tolerated on `exp` and `nbf`, by default.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// The key set is fetched again at most this often when a token names an unknown `kid`.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The one signature algorithm JWTs must use (`AUTH_ALGORITHM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWKS keys of type `RSA`); StarbaseDB's default.
    Rs256,
    /// ECDSA P-256 with SHA-256 (JWKS keys of type `EC`, curve `P-256`).
    Es256,
    /// Ed25519 (JWKS keys of type `OKP`, curve `Ed25519`).
    EdDsa,
    /// HMAC-SHA256 with `AUTH_JWT_SECRET`.
    Hs256,
}

impl JwtAlgorithm {
    /// The name as a JWT header's `alg` spells it.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Es256 => "ES256",
            JwtAlgorithm::EdDsa => "EdDSA",
            JwtAlgorithm::Hs256 => "HS256",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            "HS256" => Ok(Self::Hs256),
            other => Err(format!(
                "\"{other}\" is not a supported algorithm (RS256, ES256, EdDSA or HS256)"
            )),
        }
    }
}

/// Where the verification keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// A JSON Web Key Set at an `http(s)://` URL.
    JwksUrl(String),
    /// A JSON Web Key Set in a local file.
    JwksFile(std::path::PathBuf),
    /// The HMAC secret (`AUTH_JWT_SECRET`).
    Secret(Secret),
}

/// JWT verification, on when `AUTH_JWKS_ENDPOINT` or `AUTH_JWT_SECRET` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtSettings {
    /// The algorithm every token must name in its header.
    pub algorithm: JwtAlgorithm,
    /// The keys.
    pub keys: KeySource,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud` (the token's string, or one element of its array), when set.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Shortest time between two fetches of the key set caused by unknown `kid`s.
    pub refetch_interval: Duration,
}

/// A token bucket: `per_second` requests on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Refill rate.
    pub per_second: f64,
    /// Bucket size.
    pub burst: u32,
}

impl RateLimit {
    /// Parses `100/s`, `6000/m` or `3600/h`, optionally followed by `burst N` (default: the
    /// count before the slash); `off` or `0` disables.
    pub(crate) fn parse(text: &str) -> Result<Option<Self>, String> {
        let t = text.trim().to_ascii_lowercase();
        if t == "off" || t == "0" {
            return Ok(None);
        }
        let bad = || {
            format!(
                "\"{text}\" is not a rate (e.g. 100/s, 6000/m, \"100/s burst 200\"; off disables)"
            )
        };
        let mut words = t.split_whitespace();
        let rate = words.next().ok_or_else(bad)?;
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
        let seconds = match unit {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        let burst = match (words.next(), words.next(), words.next()) {
            (None, _, _) => count,
            (Some("burst"), Some(n), None) => n.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        Ok(Some(Self {
            per_second: f64::from(count) / seconds,
            burst,
        }))
    }

    /// The rate as [`RateLimit::parse`] reads it back.
    #[must_use]
    pub fn to_text(&self) -> String {
        // Whole requests per second, per minute or per hour, whichever is exact.
        let per = [("s", 1.0), ("m", 60.0), ("h", 3600.0)]
            .into_iter()
            .map(|(unit, secs)| (unit, self.per_second * secs))
            .find(|(_, n)| (n - n.round()).abs() < 1e-9 && *n >= 1.0);
        match per {
            Some((unit, n)) => format!("{n:.0}/{unit} burst {}", self.burst),
            None => format!("{:.0}/h burst {}", self.per_second * 3600.0, self.burst),
        }
    }
}

/// The rate limits; each `None` is off (the default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    /// Requests (HTTP requests, WebSocket messages, pgwire queries) per credential.
    pub per_token: Option<RateLimit>,
    /// Requests per client address (IPv6 by /64).
    pub per_addr: Option<RateLimit>,
    /// Failed authentication attempts per client address.
    pub auth_failures: Option<RateLimit>,
}

/// The JWT settings, or `None` when neither a key set nor a secret is configured.
pub(super) fn jwt(src: &Sources<'_>) -> Result<Option<JwtSettings>, ConfigError> {
    let endpoint = src.optional(&AUTH_JWKS_ENDPOINT, |t| Ok(t.trim().to_owned()))?;
    let secret = src.secret(&AUTH_JWT_SECRET);
    let algorithm = src.optional(&AUTH_ALGORITHM, JwtAlgorithm::parse)?;
    let invalid = |setting: &super::layers::Setting, reason: &str| ConfigError::Invalid {
        setting: setting.key,
        origin: src.origin(setting),
        reason: reason.to_owned(),
    };
    let (keys, algorithm) = match (endpoint, secret) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(invalid(
                &AUTH_JWT_SECRET,
                "auth_jwks_endpoint is set too; configure either a key set or an HMAC secret",
            ));
        }
        (None, Some(secret)) => {
            if algorithm.is_some_and(|a| a != JwtAlgorithm::Hs256) {
                return Err(invalid(
                    &AUTH_ALGORITHM,
                    "an HMAC secret (auth_jwt_secret) needs HS256",
                ));
            }
            if secret.expose().len() < 32 {
                return Err(invalid(
                    &AUTH_JWT_SECRET,
                    "the secret is shorter than 32 bytes, too short for HS256",
                ));
            }
            (KeySource::Secret(secret), JwtAlgorithm::Hs256)
        }
        (Some(endpoint), None) => {
            let algorithm = algorithm.unwrap_or(JwtAlgorithm::Rs256);
            if algorithm == JwtAlgorithm::Hs256 {
                return Err(invalid(
                    &AUTH_ALGORITHM,
                    "HS256 needs auth_jwt_secret; a key set holds public keys",
                ));
            }
            (
                key_source(&endpoint).map_err(|r| invalid(&AUTH_JWKS_ENDPOINT, &r))?,
                algorithm,
            )
        }
    };
    let text = |s| src.optional(s, |t: &str| Ok(t.trim().to_owned()));
    Ok(Some(JwtSettings {
        algorithm,
        keys,
        issuer: text(&AUTH_JWT_ISSUER)?,
        audience: text(&AUTH_JWT_AUDIENCE)?,
        leeway: src
            .parse(&JWT_LEEWAY, "30s", parse::duration)?
            .unwrap_or(Duration::ZERO),
        refetch_interval: src
            .parse(&JWKS_REFETCH_INTERVAL, "30s", parse::duration)?
            .unwrap_or(Duration::ZERO),
    }))
}

fn key_source(endpoint: &str) -> Result<KeySource, String> {
    if endpoint.starts_with("https://") || endpoint.starts_with("http://") {
        url::Url::parse(endpoint).map_err(|e| format!("not a valid URL: {e}"))?;
        return Ok(KeySource::JwksUrl(endpoint.to_owned()));
    }
    if let Some(rest) = endpoint.strip_prefix("file://") {
        return parse::path(rest).map(KeySource::JwksFile);
    }
    if endpoint.contains("://") {
        return Err("only http://, https:// and file paths are supported".to_owned());
    }
    parse::path(endpoint).map(KeySource::JwksFile)
}

/// The three rate limits.
pub(super) fn rate_limits(src: &Sources<'_>) -> Result<RateLimits, ConfigError> {
    Ok(RateLimits {
        per_token: src.parse(&RATE_LIMIT_PER_TOKEN, "off", RateLimit::parse)?,
        per_addr: src.parse(&RATE_LIMIT_PER_ADDR, "off", RateLimit::parse)?,
        auth_failures: src.parse(&RATE_LIMIT_AUTH_FAILURES, "off", RateLimit::parse)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::CliArgs;
    use crate::config::Config;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(&CliArgs::default(), &move |k| map.get(k).cloned())
    }

    #[test]
    fn jwt_settings_from_starbasedb_variables() {
        // StarbaseDB's wrangler.toml: an algorithm but a blank endpoint leaves JWT auth off.
        let c = load(&[("AUTH_ALGORITHM", "RS256"), ("AUTH_JWKS_ENDPOINT", "")]).unwrap();
        assert_eq!(c.jwt, None);
        let c = load(&[
            ("AUTH_JWKS_ENDPOINT", "https://id.test/jwks.json"),
            ("AUTH_JWT_AUDIENCE", "api"),
            ("STARBASE_JWT_LEEWAY", "5s"),
        ])
        .unwrap();
        let j = c.jwt.unwrap();
        assert_eq!(j.algorithm, JwtAlgorithm::Rs256, "StarbaseDB's default");
        assert_eq!(
            j.keys,
            KeySource::JwksUrl("https://id.test/jwks.json".into())
        );
        assert_eq!((j.audience.as_deref(), j.issuer), (Some("api"), None));
        assert_eq!(j.leeway, Duration::from_secs(5));
        assert_eq!(j.refetch_interval, DEFAULT_JWKS_REFETCH_INTERVAL);
        let secret = "0123456789abcdef0123456789abcdef";
        let j = load(&[("AUTH_JWT_SECRET", secret)]).unwrap().jwt.unwrap();
        assert_eq!(j.algorithm, JwtAlgorithm::Hs256);
        let text = load(&[("AUTH_JWT_SECRET", secret)])
            .unwrap()
            .render_masked();
        assert!(
            text.contains("auth_jwt_secret = \"***\"") && !text.contains(secret),
            "{text}"
        );
    }

    #[test]
    fn rendered_jwt_and_rate_settings_load_back() {
        let c = load(&[
            ("AUTH_JWKS_ENDPOINT", "https://id.test/jwks.json"),
            ("AUTH_ALGORITHM", "EdDSA"),
            ("AUTH_JWT_ISSUER", "https://id.test/"),
            ("STARBASE_JWKS_REFETCH_INTERVAL", "0"),
            ("STARBASE_RATE_LIMIT_PER_ADDR", "7/m burst 3"),
        ])
        .unwrap();
        let text = c.render_masked();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("starbase.toml");
        std::fs::write(&path, &text).unwrap();
        let cli = CliArgs {
            config: Some(path),
            ..CliArgs::default()
        };
        let reloaded = Config::load(&cli, &|_| None).unwrap();
        assert_eq!(reloaded.jwt, c.jwt, "{text}");
        assert_eq!(reloaded.rate_limits, c.rate_limits, "{text}");
    }

    #[test]
    fn contradictory_jwt_settings_are_refused() {
        let secret = "0123456789abcdef0123456789abcdef";
        for (env, setting) in [
            (vec![("AUTH_JWT_SECRET", "short")], "auth_jwt_secret"),
            (
                vec![("AUTH_JWT_SECRET", secret), ("AUTH_ALGORITHM", "RS256")],
                "auth_algorithm",
            ),
            (
                vec![
                    ("AUTH_JWKS_ENDPOINT", "/etc/jwks.json"),
                    ("AUTH_ALGORITHM", "HS256"),
                ],
                "auth_algorithm",
            ),
            (
                vec![
                    ("AUTH_JWKS_ENDPOINT", "/etc/jwks.json"),
                    ("AUTH_JWT_SECRET", secret),
                ],
                "auth_jwt_secret",
            ),
            (
                vec![("AUTH_JWKS_ENDPOINT", "/j"), ("AUTH_ALGORITHM", "none")],
                "auth_algorithm",
            ),
            (
                vec![("STARBASE_RATE_LIMIT_PER_ADDR", "lots")],
                "rate_limit_per_addr",
            ),
        ] {
            let e = load(&env).unwrap_err();
            assert_eq!(e.setting(), Some(setting), "{env:?}: {e}");
            assert!(!e.to_string().contains(secret), "{e}");
        }
    }

    #[test]
    fn rate_limits_from_the_environment() {
        let c = load(&[
            ("STARBASE_RATE_LIMIT_PER_TOKEN", "100/s"),
            ("STARBASE_RATE_LIMIT_AUTH_FAILURES", "10/m burst 20"),
        ])
        .unwrap();
        let r = c.rate_limits;
        assert_eq!(
            r.per_token.map(|l| (l.per_second, l.burst)),
            Some((100.0, 100))
        );
        assert_eq!(r.per_addr, None);
        assert_eq!(r.auth_failures.map(|l| l.burst), Some(20));
        assert_eq!(load(&[]).unwrap().rate_limits, RateLimits::default());
    }

    #[test]
    fn rates() {
        let r = RateLimit::parse("100/s").unwrap().unwrap();
        assert_eq!((r.per_second, r.burst), (100.0, 100));
        let r = RateLimit::parse("60/m burst 5").unwrap().unwrap();
        assert_eq!((r.per_second, r.burst), (1.0, 5));
        assert_eq!(r.to_text(), "1/s burst 5");
        let r = RateLimit::parse("3600/h").unwrap().unwrap();
        assert_eq!(RateLimit::parse(&r.to_text()).unwrap(), Some(r));
        let r = RateLimit::parse("7/m").unwrap().unwrap();
        assert_eq!(RateLimit::parse(&r.to_text()).unwrap(), Some(r));
        assert_eq!(RateLimit::parse("off").unwrap(), None);
        assert_eq!(RateLimit::parse("0").unwrap(), None);
        for bad in [
            "",
            "100",
            "0/s",
            "10/d",
            "10/s burst",
            "10/s burst 0",
            "x/s",
            "1/s b 2",
        ] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn key_sources() {
        assert_eq!(
            key_source("https://id.example/.well-known/jwks.json").unwrap(),
            KeySource::JwksUrl("https://id.example/.well-known/jwks.json".into())
        );
        assert_eq!(
            key_source("/etc/jwks.json").unwrap(),
            KeySource::JwksFile("/etc/jwks.json".into())
        );
        assert_eq!(
            key_source("file:///etc/jwks.json").unwrap(),
            KeySource::JwksFile("/etc/jwks.json".into())
        );
        assert!(key_source("ftp://x/jwks").is_err());
        assert!(key_source("https://").is_err());
    }
}
