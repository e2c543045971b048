//! Callbacks: the outcome of a dump POSTed to the job's `callbackUrl`, signed.
//!
//! Owns checking a callback URL at submit (absolute, `https`, or `http` when allowed), the
//! body (StarbaseDB's fields: `status`, `dumpId`, `downloadUrl`, `format`, `size`,
//! `completedAt`, plus `error` on failure), its HMAC-SHA256 signature header, and delivery
//! with retries and backoff. Must not know how dumps are made.

use std::time::Duration;

use starbase_protocol::DbError;
use tokio_util::sync::CancellationToken;

/// The signature header: `sha256=<hex of HMAC-SHA256(key, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Starbase-Signature";
/// Delivery attempts.
const ATTEMPTS: u32 = 5;
/// First pause between attempts; doubled each time.
const BACKOFF: Duration = Duration::from_secs(1);
/// One attempt may take this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a callback URL.
///
/// # Errors
/// `22023` naming what is wrong.
pub fn check_url(url: &str, allow_http: bool) -> Result<(), DbError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        DbError::invalid_parameter(format!("callbackUrl \"{url}\" is not a URL: {e}"))
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(DbError::invalid_parameter(
                "callbackUrl must be https:// (set STARBASE_ALLOW_HTTP_CALLBACKS=true to allow http://)",
            ));
        }
        other => {
            return Err(DbError::invalid_parameter(format!(
                "callbackUrl has scheme \"{other}\"; only https:// is accepted"
            )));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(DbError::invalid_parameter("callbackUrl has no host"));
    }
    Ok(())
}

/// The signature of `body` under `key`, as sent in [`SIGNATURE_HEADER`].
#[must_use]
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    format!(
        "sha256={}",
        super::run::hex(ring::hmac::sign(&key, body).as_ref())
    )
}

/// POSTs `body` to `url` until a 2xx answer, at most `ATTEMPTS` times.
pub(super) async fn deliver(
    http: &reqwest::Client,
    url: &str,
    key: &[u8],
    body: &serde_json::Value,
    cancel: &CancellationToken,
) {
    let body = serde_json::to_vec(body).unwrap_or_default();
    let signature = sign(key, &body);
    let mut pause = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let sent = http
            .post(url)
            .timeout(ATTEMPT_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &signature)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::info!(url, attempt, "dump callback delivered");
                return;
            }
            Ok(response) => {
                tracing::warn!(url, attempt, status = %response.status(), "dump callback refused");
            }
            Err(e) => tracing::warn!(url, attempt, error = %e, "dump callback failed"),
        }
        if attempt < ATTEMPTS {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = cancel.cancelled() => return,
            }
            pause *= 2;
        }
    }
    tracing::error!(url, "dump callback not delivered; giving up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://example.test/hook", false).is_ok());
        assert!(check_url("http://127.0.0.1:9/hook", true).is_ok());
        assert!(check_url("http://127.0.0.1:9/hook", false).is_err());
        assert!(check_url("not a url", true).is_err());
        assert!(check_url("ftp://example.test/", true).is_err());
    }

    #[test]
    fn signature_is_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
