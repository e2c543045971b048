//! TLS: with `tls_cert`/`tls_key` the pgwire listener answers SSLRequest with TLS (psql
//! verifies the certificate) and the HTTP listener speaks HTTPS; without them SSLRequest is
//! refused with `N` and the connection carries on in plain text.

use std::process::Command;

use starbase::config::TlsFiles;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{ADMIN, TestGateway};

/// A self-signed certificate for 127.0.0.1 and localhost, written to `dir`.
fn certificate(dir: &std::path::Path) -> TlsFiles {
    let key =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = dir.join("cert.pem");
    let private = dir.join("key.pem");
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&private, key.signing_key.serialize_pem()).unwrap();
    TlsFiles { cert, key: private }
}

#[tokio::test]
async fn tls_on_both_listeners_with_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path());
    let cert = files.cert.clone();
    let gw = TestGateway::start_with(|c| c.tls = Some(files)).await;
    let conninfo = format!(
        "host=127.0.0.1 port={} user=tester dbname=main sslmode=verify-ca sslrootcert={}",
        gw.pg.port(),
        cert.display()
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .args([conninfo.as_str(), "-XAtc", "SELECT 40 + 2"])
            .env("PGPASSWORD", ADMIN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    let url = format!("https://127.0.0.1:{}/healthz", gw.http.port());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&cert)
            .args(["-o", "/dev/null", "-w", "%{http_code}", url.as_str()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn ssl_request_is_refused_cleanly_without_tls() {
    let gw = TestGateway::start().await;
    let mut socket = tokio::net::TcpStream::connect(gw.pg).await.unwrap();
    // SSLRequest: length 8, code 80877103.
    socket
        .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await
        .unwrap();
    let mut answer = [0u8; 1];
    socket.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"N");
    // psql with sslmode=prefer falls back to plain text on the same gateway.
    let conninfo = format!(
        "host=127.0.0.1 port={} user=tester dbname=main sslmode=prefer",
        gw.pg.port()
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .args([conninfo.as_str(), "-XAtc", "SELECT 7"])
            .env("PGPASSWORD", ADMIN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "7");
}
