//! One WebSocket connection: requests in, replies out, strictly in order.
//!
//! Owns the message loop. Requests are handled one at a time and each reply is sent (and
//! flushed to the socket) before the next request is read, so a client that stops reading
//! stalls its own socket instead of making the server buffer. Idle sockets get a ping every
//! `PING_INTERVAL`; one that answers nothing for two intervals is closed. Every text message
//! counts against the rate limits of the socket's address and credential; one over a limit
//! gets an error frame (`53400`) and the socket stays open. A socket opened with a JWT ends
//! (an error frame `28P01`, close code 1008) at its first message after the token expired.
//! Must not know how results are
//! produced beyond the engine's plan interface.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use starbase_protocol::DbError;
use starbase_protocol::api::query::QueryRequest;
use tokio::time::{Instant, MissedTickBehavior};

use super::message::{self, Request};
use crate::auth::Principal;
use crate::engine::Target;
use crate::engine::planner::plan_query;
use crate::frontend::http::AppState;
use crate::frontend::http::render::{Arity, Shape, render_framed};

/// How often an idle socket is pinged.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// Who is on the other end of a socket.
#[derive(Debug)]
pub(super) struct Caller {
    /// The authenticated principal.
    pub(super) principal: Principal,
    /// The credential as presented, for the per-credential limit (hashed there).
    pub(super) token: String,
    /// The peer address, for the per-address limit.
    pub(super) addr: Option<std::net::IpAddr>,
}

/// Serves one upgraded socket until the client closes it, stops answering, or the server
/// shuts down (the client then gets close code 1001).
pub(super) async fn serve(mut socket: WebSocket, state: AppState, caller: Caller, target: Target) {
    let mut ping = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(msg)) = incoming else { break };
                last_heard = Instant::now();
                let reply = match msg {
                    Message::Text(_) if state.auth.session_expired(&caller.principal) => {
                        expired(&mut socket).await;
                        break;
                    }
                    Message::Text(text) => Some(match state.rate_limits.check_request(caller.addr, &caller.token) {
                        Ok(()) => handle_text(&state, &caller.principal, &target, text.as_str()).await,
                        Err(limited) => message::error(
                            message::request_id(text.as_str()).as_ref(),
                            &limited.to_db_error(),
                        ),
                    }),
                    Message::Binary(_) => Some(message::error(
                        None,
                        &DbError::protocol_violation("binary frames are not supported; send JSON text"),
                    )),
                    Message::Ping(_) | Message::Pong(_) => None,
                    Message::Close(_) => break,
                };
                if let Some(reply) = reply
                    && socket.send(Message::Text(reply.into())).await.is_err()
                {
                    break;
                }
            }
            () = state.shutdown.cancelled() => {
                let frame = axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::AWAY,
                    reason: "server shutting down".into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > 2 * PING_INTERVAL {
                    tracing::debug!("closing a WebSocket that stopped answering pings");
                    break;
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = futures::SinkExt::close(&mut socket).await;
}

/// The socket's JWT has expired: an error frame (`28P01`), then close code 1008.
async fn expired(socket: &mut WebSocket) {
    let error = DbError::new(
        starbase_protocol::SqlState::INVALID_PASSWORD,
        "invalid token: the token has expired",
    )
    .with_hint("connect again with a fresh token");
    let _ = socket
        .send(Message::Text(message::error(None, &error).into()))
        .await;
    let frame = axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::POLICY,
        reason: "token expired".into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Runs one request frame and returns its reply frame.
async fn handle_text(
    state: &AppState,
    principal: &Principal,
    target: &Target,
    text: &str,
) -> String {
    let Request { id, query } = match message::decode(text) {
        Ok(request) => request,
        Err(rejected) => return message::error(rejected.0.as_ref(), &rejected.1),
    };
    let arity = match query {
        QueryRequest::Single(_) => Arity::One,
        QueryRequest::Transaction(_) => Arity::PerStep,
    };
    let result = async {
        let stream = state
            .engine
            .execute_on(
                principal,
                target,
                plan_query(query, state.engine.dialect(target)),
            )
            .await
            .map_err(|e| e.to_client())?;
        let (prefix, suffix) = message::frame(id.as_ref());
        render_framed(
            stream,
            Shape::Objects,
            arity,
            state.limits.response,
            &prefix,
            suffix,
        )
        .await
    }
    .await;
    match result {
        // The renderer writes JSON text only.
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|e| {
            message::error(
                id.as_ref(),
                &DbError::internal(format!("reply is not UTF-8: {e}")),
            )
        }),
        Err(e) => message::error(id.as_ref(), &e),
    }
}
