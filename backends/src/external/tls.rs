//! TLS client configuration for connections to external servers.
//!
//! Owns building the rustls `ClientConfig` (ring provider, Mozilla's roots from
//! `webpki-roots`, so certificates verify the same on every machine). Must not know any
//! driver's connector type.

use std::sync::Arc;

use starbase_protocol::{DbError, SqlState};

/// The client configuration for verified TLS connections.
///
/// # Errors
/// `08001` when the crypto provider cannot be set up.
pub(crate) fn client_config() -> Result<rustls::ClientConfig, DbError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            DbError::new(
                SqlState::CONNECTION_FAILURE_CLIENT,
                format!("cannot set up TLS: {e}"),
            )
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_with_the_ring_provider() {
        assert!(super::client_config().is_ok());
    }
}
