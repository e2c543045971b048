//! TLS for both listeners: loading the PEM certificate chain and key once at start-up into
//! rustls server configurations (ALPN `postgresql` for the wire protocol's direct TLS, `h2`
//! and `http/1.1` for HTTPS).
//!
//! Owns `TlsConfigs` and the HTTPS listener that does handshakes off the accept loop (a slow
//! or silent client cannot hold up others; each handshake has a deadline and is an owned,
//! cancellable task). rustls with the `ring` provider only: no OpenSSL. Must not know
//! requests or sessions.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::TlsFiles;
use crate::error::Error;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the HTTP server to pick them up.
const READY_QUEUE: usize = 64;

/// The two listeners' TLS configurations, from one certificate and key.
#[derive(Clone)]
pub struct TlsConfigs {
    /// For the PostgreSQL-wire listener.
    pub pg: TlsAcceptor,
    /// For the HTTP listener.
    pub http: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfigs")
    }
}

impl TlsConfigs {
    /// Reads and checks the files (blocking file I/O: call it at start-up, off the async
    /// workers).
    ///
    /// # Errors
    /// `58030` naming the file when it cannot be read, holds no certificate or key, or the
    /// key does not match the certificate.
    pub fn load(files: &TlsFiles) -> Result<Self, Error> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
            .and_then(Iterator::collect)
            .map_err(|e| pem_error(&files.cert, &e))?;
        if certs.is_empty() {
            return Err(Error::io(
                format!("reading TLS certificate {}", files.cert.display()),
                io::Error::new(io::ErrorKind::InvalidData, "no certificate in the file"),
            ));
        }
        let key =
            PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem_error(&files.key, &e))?;
        let build = |alpn: Vec<Vec<u8>>| -> Result<TlsAcceptor, Error> {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .and_then(|b| {
                    b.with_no_client_auth()
                        .with_single_cert(certs.clone(), key.clone_key())
                })
                .map_err(|e| {
                    Error::io(
                        format!("using TLS key {}", files.key.display()),
                        io::Error::new(io::ErrorKind::InvalidData, e),
                    )
                })?;
            config.alpn_protocols = alpn;
            Ok(TlsAcceptor::from(Arc::new(config)))
        };
        Ok(Self {
            pg: build(vec![b"postgresql".to_vec()])?,
            http: build(vec![b"h2".to_vec(), b"http/1.1".to_vec()])?,
        })
    }
}

fn pem_error(path: &std::path::Path, e: &rustls::pki_types::pem::Error) -> Error {
    Error::io(
        format!("reading TLS file {}", path.display()),
        io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
    )
}

/// A listener whose connections are TLS streams, handshaken concurrently.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener` until `shutdown`, handshaking each connection on its own task in
    /// `tracker`.
    ///
    /// # Errors
    /// `58030` when the listener's address cannot be read.
    pub fn spawn(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<Self, Error> {
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading HTTPS listener address", e))?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let handshakes = tracker.clone();
        tracker.spawn(async move {
            loop {
                let (socket, peer) = tokio::select! {
                    () = shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            tracing::warn!(error = %e, "accepting an HTTPS connection failed");
                            continue;
                        }
                    },
                };
                let (acceptor, tx, shutdown) = (acceptor.clone(), tx.clone(), shutdown.clone());
                handshakes.spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket));
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        done = handshake => match done {
                            Ok(Ok(stream)) => {
                                let _ = tx.send((stream, peer)).await;
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept loop stopped (shutdown): no more connections will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
