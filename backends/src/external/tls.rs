//! TLS client configuration for connections to external servers.
//!
//! Owns building the rustls `ClientConfig` (ring provider): verified against Mozilla's roots
//! from `webpki-roots` for `TlsMode::Require` (the same on every machine), and encryption
//! without certificate verification for `TlsMode::Prefer`, as libpq's `sslmode=prefer` does
//! (prefer never protected against an active attacker; it keeps passive eavesdroppers out
//! when the server has a self-signed certificate). Must not know any driver's connector type.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use starbase_protocol::{DbError, SqlState};

use super::config::TlsMode;

/// The client configuration for `mode` (`Disable` gets the verified one; it is never used).
///
/// # Errors
/// `08001` when the crypto provider cannot be set up.
pub(crate) fn client_config(mode: TlsMode) -> Result<rustls::ClientConfig, DbError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            DbError::new(
                SqlState::CONNECTION_FAILURE_CLIENT,
                format!("cannot set up TLS: {e}"),
            )
        })?;
    let config = match mode {
        TlsMode::Prefer => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        TlsMode::Disable | TlsMode::Require => builder
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Accepts any certificate but still checks the handshake signatures (so the session key
/// belongs to whoever holds the certificate's key).
#[derive(Debug)]
struct EncryptOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_the_ring_provider() {
        for mode in [TlsMode::Disable, TlsMode::Prefer, TlsMode::Require] {
            assert!(client_config(mode).is_ok(), "{mode:?}");
        }
    }
}
