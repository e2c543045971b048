//! The HTTP frontend: StarbaseDB's HTTP API on axum.
//!
//! Owns the router, shared request state, CORS (spec §3.2), bearer authentication and the
//! rate limits of HTTP requests (per address before authentication, failed logins per
//! address, per credential after it; over a limit: 429 with `Retry-After`).
//! Must not know backend or driver types: it talks to the engine with plans and result streams.

mod admin;
mod body;
pub mod error;
pub(crate) mod export;
mod import;
mod query;
pub mod render;
mod rest;
mod source;

pub(crate) use source::resolve_source;
mod status;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use starbase_protocol::{DbError, SqlState};

use crate::auth::Authenticator;
use crate::engine::Engine;
use crate::limit::{RateLimited, RateLimiter};
use error::ApiError;
use render::ResponseLimits;

/// HTTP limits.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Maximum request body size in bytes.
    pub max_request_bytes: usize,
    /// Response size and row limits.
    pub response: ResponseLimits,
}

/// State shared by every HTTP handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Runs plans.
    pub engine: Engine,
    /// The gateway's own metadata database (never reachable by client SQL).
    pub meta: crate::meta::MetaDb,
    /// Asynchronous dumps.
    pub dumps: crate::dump::DumpService,
    /// Checks tokens.
    pub auth: Authenticator,
    /// Rate limits (shared with the other frontends).
    pub rate_limits: std::sync::Arc<RateLimiter>,
    /// Request and response limits.
    pub limits: HttpLimits,
    /// Cancelled when the server shuts down; long-lived connections (WebSockets) watch it.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The complete HTTP router.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/query", post(query::handle_query))
        .route("/query/raw", post(query::handle_query_raw))
        .route("/status/database", get(status::handle_status_database))
        .route(
            "/export/dump",
            get(export::handle_export_dump).post(export::jobs::handle_start_dump),
        )
        .route(
            "/export/dump/status/{key}",
            get(export::jobs::handle_dump_status),
        )
        .route(
            "/export/dump/download/{file}",
            get(export::jobs::handle_dump_download),
        )
        .route(
            "/export/dump/resume/{key}",
            post(export::jobs::handle_dump_resume),
        )
        .route("/export/json/{table}", get(export::handle_export_json))
        .route("/export/csv/{table}", get(export::handle_export_csv))
        .route(
            "/import/dump",
            post(import::handle_import_dump).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/import/json/{table}",
            post(import::handle_import_json).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/import/csv/{table}",
            // Imports stream with constant memory; the request limit applies per record.
            post(import::handle_import_csv).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/admin/allowlist",
            get(admin::handle_list_allowlist).post(admin::handle_add_allowlist),
        )
        .route(
            "/admin/allowlist/rejections",
            get(admin::handle_list_rejections),
        )
        .route(
            "/admin/allowlist/{id}",
            axum::routing::delete(admin::handle_delete_allowlist),
        )
        .route(
            "/admin/rls/policies",
            get(admin::handle_list_policies).post(admin::handle_add_policy),
        )
        .route(
            "/admin/rls/policies/{id}",
            axum::routing::delete(admin::handle_delete_policy),
        )
        .route("/rest", axum::routing::any(rest::handle_rest_root))
        .route("/rest/", axum::routing::any(rest::handle_rest_root))
        .route("/rest/{*path}", axum::routing::any(rest::handle_rest))
        .fallback(handle_not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/healthz", get(status::handle_healthz))
        .route("/socket", get(crate::frontend::ws::handle_socket))
        .merge(authenticated)
        .method_not_allowed_fallback(handle_method_not_allowed)
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

/// Answers every `OPTIONS` request before authentication and adds the CORS headers to every
/// other response, exactly as StarbaseDB does.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PATCH, PUT, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, X-Starbase-Source, X-Data-Source"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// The peer address of a connection (plain or TLS), what the per-address limits count by.
/// Proxy headers (`X-Forwarded-For`) are not trusted.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The client's IP address, when the server was started with connect info.
#[must_use]
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<ClientAddr>>()
        .map(|c| c.0.0.ip())
}

/// A 429 with `Retry-After` (whole seconds, rounded up) and the `53400` error body.
#[must_use]
pub fn rate_limited(limited: &RateLimited) -> Response {
    let mut response =
        ApiError::with_status(StatusCode::TOO_MANY_REQUESTS, limited.to_db_error()).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(limited.retry_after_secs()),
    );
    response
}

/// Bearer authentication; the principal is handed to handlers as a request extension.
/// Rate limits: the address first (every request counts, authenticated or not), then failed
/// logins from the address, then the credential.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let addr = client_ip(request.extensions());
    if let Err(limited) = state
        .rate_limits
        .check_addr(addr)
        .and_then(|()| state.rate_limits.check_auth_allowed(addr))
    {
        return rate_limited(&limited);
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.auth.authenticate_bearer(header).await {
        Ok(principal) => {
            let token = Authenticator::bearer_token(header).unwrap_or_default();
            if let Err(limited) = state.rate_limits.check_token(token) {
                return rate_limited(&limited);
            }
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => {
            state.rate_limits.record_auth_failure(addr);
            let mut response = ApiError::new(e).into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

async fn handle_not_found() -> ApiError {
    ApiError::with_status(
        StatusCode::NOT_FOUND,
        DbError::new(SqlState::UNDEFINED_OBJECT, "not found"),
    )
}

async fn handle_method_not_allowed() -> ApiError {
    ApiError::with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        DbError::new(SqlState::FEATURE_NOT_SUPPORTED, "method not allowed"),
    )
}
