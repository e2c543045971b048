//! The client side of a proxied session's log-in: SCRAM-SHA-256 against the gateway's tokens,
//! spoken in raw frames (the proxy owns the socket; pgwire's start-up handler does not run).
//!
//! Owns only that exchange. A wrong password is FATAL `28P01` and the connection closes, as
//! for the embedded database. Must not know the server side.

use pgwire::messages::startup::Startup;
use tokio::io::{AsyncRead, AsyncWrite};

use super::frames::{Wire, authentication, error_body, take_cstring};
use crate::auth::Role;
use crate::frontend::pgwire::auth::TokenScram;
use crate::frontend::pgwire::scram;

/// Authenticates the client: its role, or `None` (after telling it why) when it failed or
/// went away.
///
/// # Errors
/// Socket failures.
pub(super) async fn authenticate<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Wire<T>,
    tokens: &TokenScram,
    startup: &Startup,
) -> std::io::Result<Option<Role>> {
    let user = startup.parameters.get("user").cloned().unwrap_or_default();
    if user.is_empty() {
        let body = error_body(
            "FATAL",
            "28000",
            "no PostgreSQL user name specified in startup packet",
        );
        client.write(b'E', &body).await?;
        return Ok(None);
    }
    let mut mechanism = scram::MECHANISM.as_bytes().to_vec();
    mechanism.extend_from_slice(&[0, 0]);
    client.write(b'R', &authentication(10, &mechanism)).await?;
    let Some((b'p', mut initial)) = client.read().await? else {
        return Ok(None);
    };
    let chosen = take_cstring(&mut initial).unwrap_or_default();
    if chosen != scram::MECHANISM || initial.len() < 4 {
        return refuse(client, "08P01", "unsupported SASL mechanism").await;
    }
    let data = initial.split_off(4);
    let Ok((server_first, exchange)) = tokens.verifiers().start(&data) else {
        return refuse(client, "08P01", "malformed SCRAM message").await;
    };
    client
        .write(b'R', &authentication(11, server_first.as_bytes()))
        .await?;
    let Some((b'p', response)) = client.read().await? else {
        return Ok(None);
    };
    match exchange.finish(&response) {
        Ok((role, server_final)) => {
            client
                .write(b'R', &authentication(12, server_final.as_bytes()))
                .await?;
            Ok(Some(role))
        }
        Err(scram::ScramError::WrongPassword) => {
            let message = format!("password authentication failed for user \"{user}\"");
            refuse(client, "28P01", &message).await
        }
        Err(scram::ScramError::Malformed(_)) => {
            refuse(client, "08P01", "malformed SCRAM message").await
        }
    }
}

/// Sends a FATAL error; the caller closes the connection.
///
/// # Errors
/// Socket failures.
pub(super) async fn refuse<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut Wire<T>,
    code: &str,
    message: &str,
) -> std::io::Result<Option<Role>> {
    client
        .write(b'E', &error_body("FATAL", code, message))
        .await?;
    Ok(None)
}
