//! The WebSocket frontend: `/socket` (spec §5.5), StarbaseDB's query channel.
//!
//! Owns the upgrade: the token comes from `?token=` (or an `Authorization` header), a bad
//! one is refused with 401 before upgrading, and the source (`?source=` or the
//! `X-Starbase-Source` header) is resolved as on HTTP: every query of the socket runs there.
//! The upgrade counts as a request for the rate limits (and a refused token as a failed
//! login); then every message counts (see `conn`). The message loop lives in `conn`. Must
//! not know backend types.

mod conn;
mod message;

use axum::Extension;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use starbase_protocol::DbError;

use crate::auth::Authenticator;
use crate::frontend::http::error::ApiError;
use crate::frontend::http::{AppState, ClientAddr, rate_limited};

/// Query string of `/socket`.
#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    token: Option<String>,
}

/// `GET /socket?token=…`: authenticate, then upgrade to the query channel.
pub async fn handle_socket(
    State(state): State<AppState>,
    Query(query): Query<SocketQuery>,
    peer: Option<Extension<ConnectInfo<ClientAddr>>>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let addr = peer.map(|Extension(ConnectInfo(ClientAddr(a)))| a.ip());
    if let Err(limited) = state
        .rate_limits
        .check_addr(addr)
        .and_then(|()| state.rate_limits.check_auth_allowed(addr))
    {
        return rate_limited(&limited);
    }
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (principal, token) = match query.token.as_deref() {
        Some(token) if !token.is_empty() => (state.auth.authenticate_token(token).await, token),
        _ => (
            state.auth.authenticate_bearer(header).await,
            Authenticator::bearer_token(header).unwrap_or_default(),
        ),
    };
    let principal = match principal {
        Ok(p) => p,
        Err(e) => {
            state.rate_limits.record_auth_failure(addr);
            return ApiError::new(e).into_response();
        }
    };
    if let Err(limited) = state.rate_limits.check_token(token) {
        return rate_limited(&limited);
    }
    let caller = conn::Caller {
        principal,
        token: token.to_owned(),
        addr,
    };
    let target = match crate::frontend::http::resolve_source(&state.engine, &headers, &uri) {
        Ok(t) => t,
        Err(e) => return ApiError::new(e).into_response(),
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => {
            return ApiError::with_status(
                StatusCode::BAD_REQUEST,
                DbError::protocol_violation(format!(
                    "expected a WebSocket upgrade request: {rejection}"
                )),
            )
            .into_response();
        }
    };
    let max_message = state.limits.max_request_bytes;
    upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| conn::serve(socket, state, caller, target))
}
