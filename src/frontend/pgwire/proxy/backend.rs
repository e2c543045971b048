//! Logging in to the external PostgreSQL server for a proxied session.
//!
//! Owns connecting (with a timeout, over TCP or the source's Unix-domain socket), the
//! start-up packet (the source's user and database only: clients' own start-up options are
//! applied per client by the pool), and the server's authentication request: trust,
//! cleartext, MD5 or SCRAM-SHA-256 (whose server signature is checked). Returns the server's start-up messages for the client. A server that cannot
//! be reached is `08006`; one that rejects the source's credentials keeps its own error.
//! Must not know the client side.

use bytes::{Buf, BytesMut};
use starbase_protocol::{DbError, SqlState};

use super::ProxyTarget;
use super::frames::{Wire, cstring};
use super::stream::{ServerAddr, ServerStream};
use crate::frontend::pgwire::scram::ClientExchange;

/// A logged-in server connection and what the server said after `AuthenticationOk`
/// (`ParameterStatus`, `BackendKeyData`, …, up to and including `ReadyForQuery`), raw.
#[derive(Debug)]
pub(super) struct Backend {
    /// The connection, ready for queries.
    pub(super) wire: Wire<ServerStream>,
    /// Where it is (for cancel requests).
    pub(super) addr: ServerAddr,
    /// The messages to pass on to the client.
    pub(super) greeting: Vec<(u8, BytesMut)>,
    /// The server's cancel key (process id, secret), when it sent one.
    pub(super) key: Option<(i32, Vec<u8>)>,
}

/// Why logging in failed.
#[derive(Debug)]
pub(super) enum LoginError {
    /// The gateway's own error (unreachable, protocol).
    Gateway(DbError),
    /// The server's `ErrorResponse` body, to pass on as is.
    Server(BytesMut),
}

fn unreachable(target: &ProxyTarget, what: impl std::fmt::Display) -> LoginError {
    LoginError::Gateway(
        DbError::new(
            SqlState::CONNECTION_FAILURE,
            format!(
                "could not connect to source \"{}\" at {}: {what}",
                target.name,
                target.address()
            ),
        )
        .fatal(),
    )
}

/// Connects and logs in.
///
/// # Errors
/// See [`LoginError`].
pub(super) async fn login(target: &ProxyTarget) -> Result<Backend, LoginError> {
    if target.tls_required {
        return Err(unreachable(
            target,
            "the source requires TLS, which the wire proxy does not speak to servers yet",
        ));
    }
    let (io, addr) = ServerStream::connect(target)
        .await
        .map_err(|e| unreachable(target, e))?;
    let mut wire = Wire::new(io, BytesMut::new());
    send_startup(&mut wire, target)
        .await
        .map_err(|e| unreachable(target, e))?;
    authenticate(&mut wire, target).await?;
    let mut greeting = Vec::new();
    let mut key = None;
    loop {
        let (kind, body) = next(&mut wire, target).await?;
        match kind {
            b'E' => return Err(LoginError::Server(body)),
            b'K' if body.len() >= 8 => {
                let pid = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                key = Some((pid, body[4..].to_vec()));
            }
            _ => {}
        }
        let done = kind == b'Z';
        greeting.push((kind, body));
        if done {
            return Ok(Backend {
                wire,
                addr,
                greeting,
                key,
            });
        }
    }
}

async fn next(
    wire: &mut Wire<ServerStream>,
    target: &ProxyTarget,
) -> Result<(u8, BytesMut), LoginError> {
    match wire.read().await {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(unreachable(target, "the server closed the connection")),
        Err(e) => Err(unreachable(target, e)),
    }
}

async fn send_startup(wire: &mut Wire<ServerStream>, target: &ProxyTarget) -> std::io::Result<()> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in [("user", &target.user), ("database", &target.database)] {
        body.extend(cstring(k));
        body.extend(cstring(v));
    }
    body.push(0);
    let mut packet = u32::try_from(body.len() + 4)
        .unwrap_or(u32::MAX)
        .to_be_bytes()
        .to_vec();
    packet.extend(body);
    tokio::io::AsyncWriteExt::write_all(&mut wire.io, &packet).await
}

/// Answers the server's authentication requests until `AuthenticationOk`.
async fn authenticate(
    wire: &mut Wire<ServerStream>,
    target: &ProxyTarget,
) -> Result<(), LoginError> {
    let password = target.password.clone().unwrap_or_default();
    let mut scram: Option<(ClientExchange, Option<String>)> = None;
    loop {
        let (kind, mut body) = next(wire, target).await?;
        if kind == b'E' {
            return Err(LoginError::Server(body));
        }
        if kind != b'R' || body.len() < 4 {
            return Err(unreachable(
                target,
                "unexpected message during authentication",
            ));
        }
        let code = body.get_i32();
        let reply = match code {
            0 => return Ok(()),
            3 => cstring(&password),
            5 if body.len() >= 4 => cstring(&md5_password(&target.user, &password, &body[..4])),
            10 => {
                let (exchange, first) = ClientExchange::start(&password);
                scram = Some((exchange, None));
                let mut reply = cstring("SCRAM-SHA-256");
                reply.extend_from_slice(&i32::try_from(first.len()).unwrap_or(0).to_be_bytes());
                reply.extend_from_slice(first.as_bytes());
                reply
            }
            11 => {
                let Some((exchange, expected)) = scram.as_mut() else {
                    return Err(unreachable(target, "SCRAM continuation without a start"));
                };
                let (client_final, server_final) =
                    exchange.finish(&body).map_err(|e| unreachable(target, e))?;
                *expected = Some(server_final);
                client_final.into_bytes()
            }
            12 => {
                let expected = scram.as_ref().and_then(|(_, e)| e.as_deref());
                if expected != Some(String::from_utf8_lossy(&body).as_ref()) {
                    return Err(unreachable(
                        target,
                        "the server's SCRAM signature does not match",
                    ));
                }
                continue;
            }
            other => {
                return Err(unreachable(
                    target,
                    format!("unsupported authentication method {other}"),
                ));
            }
        };
        wire.write(b'p', &reply)
            .await
            .map_err(|e| unreachable(target, e))?;
    }
}

/// PostgreSQL's MD5 password: `md5` + hex(md5(hex(md5(password + user)) + salt)).
fn md5_password(user: &str, password: &str, salt: &[u8]) -> String {
    let inner = format!("{:x}", md5::compute(format!("{password}{user}")));
    let mut outer = inner.into_bytes();
    outer.extend_from_slice(salt);
    format!("md5{:x}", md5::compute(outer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_postgresql() {
        // SELECT 'md5' || md5(md5('secret' || 'alice') || 'salt') in PostgreSQL.
        assert_eq!(
            md5_password("alice", "secret", b"salt"),
            "md5986e2194384c07f4fd1df4b1351b3e68"
        );
    }
}
