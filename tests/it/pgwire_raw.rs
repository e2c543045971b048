//! Hostile and broken wire input, sent byte by byte: every case gets an ErrorResponse with
//! the right SQLSTATE or a clean close, and the gateway keeps serving other connections.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use starbase::frontend::pgwire::scram::ClientExchange;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{ADMIN, TestGateway};

/// A protocol-level client: frames out, (type, body) in.
pub(crate) struct Raw {
    socket: TcpStream,
}

fn startup_packet(params: &[(&str, &str)], version: u32) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = u32::try_from(body.len() + 4)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    packet.extend(body);
    packet
}

pub(crate) fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub(crate) fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

impl Raw {
    async fn connect(gw: &TestGateway) -> Self {
        Self {
            socket: TcpStream::connect(gw.pg).await.unwrap(),
        }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.unwrap();
    }

    /// The next message, or `None` when the server closed the connection.
    pub(crate) async fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut head = [0u8; 5];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.socket.read_exact(&mut head),
        )
        .await
        .expect("the server neither answered nor closed");
        read.ok()?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        self.socket.read_exact(&mut body).await.ok()?;
        Some((head[0], body))
    }

    /// Reads until a message of `kind`, returning the SQLSTATE of any ErrorResponse seen.
    pub(crate) async fn until(&mut self, kind: u8) -> (Option<String>, bool) {
        let mut code = None;
        loop {
            match self.recv().await {
                None => return (code, false),
                Some((b'E', body)) => code = Some(error_code(&body)),
                Some((k, _)) if k == kind => return (code, true),
                Some(_) => {}
            }
        }
    }

    /// Start-up and SCRAM-SHA-256 with `password`, up to ReadyForQuery.
    pub(crate) async fn login(gw: &TestGateway, password: &str) -> Self {
        Self::login_to(gw, password, "main").await
    }

    /// [`Raw::login`] to `database`.
    pub(crate) async fn login_to(gw: &TestGateway, password: &str, database: &str) -> Self {
        let mut raw = Self::connect(gw).await;
        raw.send(&startup_packet(
            &[("user", "raw"), ("database", database)],
            196_608,
        ))
        .await;
        let (kind, _) = raw.recv().await.unwrap();
        assert_eq!(kind, b'R');
        let (scram, first) = ClientExchange::start(password);
        let mut body = cstr("SCRAM-SHA-256");
        body.extend_from_slice(&i32::try_from(first.len()).unwrap().to_be_bytes());
        body.extend_from_slice(first.as_bytes());
        raw.send(&frame(b'p', &body)).await;
        let (_, body) = raw.recv().await.unwrap();
        let (last, _) = scram.finish(&body[4..]).unwrap();
        raw.send(&frame(b'p', last.as_bytes())).await;
        let (code, ready) = raw.until(b'Z').await;
        assert!(ready && code.is_none(), "login failed: {code:?}");
        raw
    }
}

pub(crate) fn error_code(body: &[u8]) -> String {
    body.split(|b| *b == 0)
        .find_map(|f| f.strip_prefix(b"C"))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default()
}

/// The gateway still answers a normal client.
async fn still_serving(gw: &TestGateway) {
    let c = gw.pg_client().await;
    let rows = c.simple_query("SELECT 1").await.unwrap();
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn garbage_before_startup_is_closed_and_others_are_served() {
    let gw = TestGateway::start().await;
    let mut raw = Raw::connect(&gw).await;
    raw.send(b"\x16\x03\x01random bytes that are not a startup packet at all")
        .await;
    // Whatever the server says first, it ends the connection.
    while raw.recv().await.is_some() {}
    let mut raw = Raw::connect(&gw).await;
    // A startup packet claiming 1 GiB.
    raw.send(&[0x40, 0, 0, 0, 0, 3, 0, 0]).await;
    while raw.recv().await.is_some() {}
    still_serving(&gw).await;
}

#[tokio::test]
async fn unknown_protocol_version_and_missing_user_are_fatal() {
    let gw = TestGateway::start().await;
    let mut raw = Raw::connect(&gw).await;
    raw.send(&startup_packet(&[("user", "x")], 4 << 16)).await;
    let (code, ready) = raw.until(b'Z').await;
    assert!(!ready, "an unknown major version must not get a session");
    assert!(
        matches!(code.as_deref(), None | Some("08P01" | "0A000")),
        "{code:?}"
    );
    let mut raw = Raw::connect(&gw).await;
    raw.send(&startup_packet(&[("database", "main")], 196_608))
        .await;
    let (code, ready) = raw.until(b'Z').await;
    assert_eq!(code.as_deref(), Some("28000"));
    assert!(!ready, "nothing may follow a FATAL error");
    // A wrong password: FATAL 28P01, then the connection is closed.
    let mut raw = Raw::connect(&gw).await;
    raw.send(&startup_packet(
        &[("user", "x"), ("database", "main")],
        196_608,
    ))
    .await;
    let (kind, _) = raw.recv().await.unwrap();
    assert_eq!(kind, b'R');
    let mut body = cstr("SCRAM-SHA-256");
    let first = "n,,n=,r=abcdefgh";
    body.extend_from_slice(&i32::try_from(first.len()).unwrap().to_be_bytes());
    body.extend_from_slice(first.as_bytes());
    raw.send(&frame(b'p', &body)).await;
    let (_, body) = raw.recv().await.unwrap();
    let server_first = String::from_utf8(body[4..].to_vec()).unwrap();
    let nonce = server_first.split(',').next().unwrap();
    let last = format!("c=biws,{nonce},p={}", BASE64.encode([7u8; 32]));
    raw.send(&frame(b'p', last.as_bytes())).await;
    let (code, ready) = raw.until(b'Z').await;
    assert_eq!(code.as_deref(), Some("28P01"));
    assert!(!ready, "nothing may follow a FATAL error");
    still_serving(&gw).await;
}

#[tokio::test]
async fn broken_messages_after_login_get_errors_and_the_connection_survives() {
    let gw = TestGateway::start().await;
    let mut raw = Raw::login(&gw, ADMIN).await;
    // Parse a statement with two parameters, Bind only one.
    let mut parse = cstr("s1");
    parse.extend(cstr("SELECT $1::text || $2::text"));
    parse.extend_from_slice(&0i16.to_be_bytes());
    let mut bind = cstr("");
    bind.extend(cstr("s1"));
    bind.extend_from_slice(&0i16.to_be_bytes());
    bind.extend_from_slice(&1i16.to_be_bytes());
    bind.extend_from_slice(&1i32.to_be_bytes());
    bind.push(b'a');
    bind.extend_from_slice(&0i16.to_be_bytes());
    let mut execute = cstr("");
    execute.extend_from_slice(&0i32.to_be_bytes());
    let mut batch = frame(b'P', &parse);
    batch.extend(frame(b'B', &bind));
    batch.extend(frame(b'E', &execute));
    batch.extend(frame(b'S', &[]));
    raw.send(&batch).await;
    let (code, ready) = raw.until(b'Z').await;
    assert_eq!(code.as_deref(), Some("08P01"));
    assert!(ready);
    // Bind to a statement that does not exist.
    let mut bind = cstr("");
    bind.extend(cstr("nope"));
    bind.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut batch = frame(b'B', &bind);
    batch.extend(frame(b'S', &[]));
    raw.send(&batch).await;
    let (code, ready) = raw.until(b'Z').await;
    assert_eq!(code.as_deref(), Some("26000"));
    assert!(ready);
    // A message claiming 1 GiB is refused without reading (or allocating) it.
    raw.send(&[b'Q', 0x40, 0, 0, 0]).await;
    let (code, ready) = raw.until(b'Z').await;
    assert!(!ready, "an oversized message must end the connection");
    assert!(matches!(code.as_deref(), None | Some("08P01")), "{code:?}");
    still_serving(&gw).await;
}
