//! Which pgwire connections may log in with a JWT: with JWT auth configured, loopback and TLS
//! connections get cleartext password auth (token or JWT); a plain connection from another
//! address keeps SCRAM-SHA-256 and the static tokens only, so a JWT never crosses a network
//! in the clear.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use starbase::config::{JwtAlgorithm, KeySource, Secret, TlsFiles};

use crate::common::jwt::{HMAC_SECRET, Signer, claims};
use crate::common::login;
use crate::common::{ADMIN, TestGateway};
use crate::jwt::settings;

/// This machine's address on a non-loopback interface (the source address of a route).
fn non_loopback_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn psql(conninfo: &str, password: String) -> std::process::Output {
    Command::new("psql")
        .args([conninfo, "-XAtc", "SELECT 40 + 2"])
        .env("PGPASSWORD", password)
        .output()
        .unwrap()
}

#[tokio::test]
async fn jwts_need_tls_or_loopback_on_pgwire() {
    let Some(ip) = non_loopback_address() else {
        panic!("this test needs a non-loopback interface address");
    };
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec![ip.to_string()]).unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, key.cert.pem()).unwrap();
    std::fs::write(&files.key, key.signing_key.serialize_pem()).unwrap();
    let cert = files.cert.clone();
    let gw = TestGateway::start_with(|c| {
        c.pg_listen = SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0);
        c.tls = Some(files);
        c.jwt = Some(settings(
            JwtAlgorithm::Hs256,
            KeySource::Secret(Secret::new(HMAC_SECRET.into())),
        ));
    })
    .await;
    let token = Signer::hs256(HMAC_SECRET.as_bytes()).token(&claims("remote-user"));
    let remote = SocketAddr::new(ip, gw.pg.port());

    // Plain text from another address: SCRAM, tokens only.
    let (method, _) = login::pg_raw_at(remote, "").await;
    assert_eq!(method, 10, "SASL offered to a plain remote connection");
    let plain = |password: &str| {
        let conninfo = format!(
            "host={ip} port={} user=tester dbname=main sslmode=disable",
            gw.pg.port()
        );
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || psql(&conninfo, password))
    };
    let out = plain(ADMIN).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = plain(&token).await.unwrap();
    assert!(
        !out.status.success(),
        "a JWT over plain remote pgwire must be refused"
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );

    // TLS from the same address: the JWT is accepted (psql verifies the certificate).
    let conninfo = format!(
        "host={ip} port={} user=tester dbname=main sslmode=verify-ca sslrootcert={}",
        gw.pg.port(),
        cert.display()
    );
    let password = token.clone();
    let out = tokio::task::spawn_blocking(move || psql(&conninfo, password))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    gw.stop().await;
}
