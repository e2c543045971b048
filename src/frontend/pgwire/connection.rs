//! One accepted pgwire connection, from the first byte: TLS negotiation, the start-up
//! packet, then either the embedded database (pgwire's message loop with our handlers) or,
//! when the database names an external PostgreSQL source, the wire proxy.
//!
//! Owns the per-connection message loop. It is pgwire's own loop (`process_message`,
//! `process_error`), run here rather than through `process_socket` so that the start-up
//! packet can be read before deciding who serves the connection, and so that a
//! `CancelRequest` for a proxied session reaches the external server. Must not know query
//! semantics.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, NoopHandler, PgWireConnectionState};
use pgwire::messages::PgWireFrontendMessage;
use pgwire::tokio::server::{
    MaybeTls, PgWireMessageServerCodec, negotiate_tls, process_error, process_message,
};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use super::PgFrontend;
use super::cork::Corked;
use super::prepared::Prepared;

/// How long a client has to finish TLS negotiation, start-up and authentication.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The framed socket of a connection, as negotiated (before start-up).
pub type Socket = Framed<MaybeTls, PgWireMessageServerCodec<Prepared>>;

/// The framed socket the embedded database's message loop serves (output coalesced, see
/// `cork`).
type CorkedSocket = Framed<Corked<MaybeTls>, PgWireMessageServerCodec<Prepared>>;

/// The handlers one embedded-database connection uses.
#[allow(missing_debug_implementations)] // pgwire's handler traits are not Debug
pub struct Handlers<S, Q, E, C> {
    /// Start-up and authentication.
    pub startup: Arc<S>,
    /// Simple query protocol.
    pub simple: Arc<Q>,
    /// Extended query protocol.
    pub extended: Arc<E>,
    /// `CancelRequest` for embedded sessions.
    pub cancel: Arc<C>,
}

/// Serves one connection to its end.
///
/// # Errors
/// Socket failures.
pub async fn serve<S, Q, E, C>(
    tcp: TcpStream,
    frontend: &PgFrontend,
    handlers: Handlers<S, Q, E, C>,
) -> io::Result<()>
where
    S: StartupHandler,
    Q: SimpleQueryHandler,
    E: ExtendedQueryHandler<Statement = Prepared>,
    C: CancelHandler,
{
    let peer = tcp.peer_addr().ok().map(|a| a.ip());
    let deadline = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(deadline);
    let negotiated = tokio::select! {
        () = &mut deadline => return Ok(()),
        socket = negotiate_tls::<Prepared>(tcp, frontend.tls.clone()) => socket?,
    };
    // None: the client wants direct TLS and none is configured.
    let Some(mut socket) = negotiated else {
        return Ok(());
    };
    let first = tokio::select! {
        () = &mut deadline => return Ok(()),
        first = socket.next() => first,
    };
    let Some(Ok(first)) = first else {
        return Ok(());
    };
    let first = match first {
        PgWireFrontendMessage::CancelRequest(cancel) => {
            if !frontend.proxy.cancel(&cancel).await {
                handlers.cancel.on_cancel_request(cancel).await;
            }
            let _ = socket.close().await;
            return Ok(());
        }
        PgWireFrontendMessage::Startup(startup) => match frontend.proxy.target_for(&startup) {
            Some(target) => {
                return super::proxy::run(socket, startup, target, frontend, peer).await;
            }
            None => PgWireFrontendMessage::Startup(startup),
        },
        other => other,
    };
    message_loop(socket, first, &handlers, deadline).await
}

/// pgwire's message loop, starting with the message already read.
async fn message_loop<S, Q, E, C>(
    socket: Socket,
    first: PgWireFrontendMessage,
    handlers: &Handlers<S, Q, E, C>,
    mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
) -> io::Result<()>
where
    S: StartupHandler,
    Q: SimpleQueryHandler,
    E: ExtendedQueryHandler<Statement = Prepared>,
    C: CancelHandler,
{
    let copy = Arc::new(NoopHandler);
    let parts = socket.into_parts();
    let mut corked = FramedParts::new(Corked::new(parts.io), parts.codec);
    corked.read_buf = parts.read_buf;
    corked.write_buf = parts.write_buf;
    let mut socket: CorkedSocket = Framed::from_parts(corked);
    let mut next = Some(first);
    loop {
        let message = match next.take() {
            Some(message) => message,
            None => {
                let starting = matches!(
                    socket.state(),
                    PgWireConnectionState::AwaitingStartup
                        | PgWireConnectionState::AuthenticationInProgress
                );
                let read = if starting {
                    tokio::select! {
                        () = &mut deadline => return Ok(()),
                        read = socket.next() => read,
                    }
                } else {
                    socket.next().await
                };
                match read {
                    Some(Ok(message)) => message,
                    // A broken frame (garbage, a length over the limit) or the end of input.
                    _ => return Ok(()),
                }
            }
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            return Ok(());
        }
        let extended = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        // PostgreSQL answers these only at the next Sync or Flush: hold their replies.
        socket.get_mut().set_corked(matches!(
            message,
            PgWireFrontendMessage::Parse(_)
                | PgWireFrontendMessage::Bind(_)
                | PgWireFrontendMessage::Describe(_)
                | PgWireFrontendMessage::Execute(_)
                | PgWireFrontendMessage::Close(_)
        ));
        let result = process_message(
            message,
            &mut socket,
            Arc::clone(&handlers.startup),
            Arc::clone(&handlers.simple),
            Arc::clone(&handlers.extended),
            Arc::clone(&copy),
            Arc::clone(&handlers.cancel),
        )
        .await;
        if let Err(error) = result {
            let fatal = error.is_fatal();
            process_error(&mut socket, error, extended).await?;
            if fatal {
                // The error may sit behind a cork; the client should still read it.
                socket.get_mut().set_corked(false);
                return socket.flush().await;
            }
        }
    }
}
