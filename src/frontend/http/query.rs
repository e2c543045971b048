//! `POST /query` and `POST /query/raw` (spec §5.1).
//!
//! Owns decoding the body, planning, running and rendering, on the source the request names
//! (`X-Starbase-Source` / `?source=`): statements are written in that backend's dialect and
//! its errors come back as they are (never StarbaseDB's `200 {"result": []}`). Must not know
//! SQLite.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use starbase_protocol::api::query::QueryRequest;

use super::AppState;
use super::body::read_json;
use super::error::ApiError;
use super::render::{Arity, Shape, render};
use super::source::resolve_source;
use crate::auth::Principal;
use crate::engine::planner::plan_query;

/// `POST /query`: rows as objects.
pub(super) async fn handle_query(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, ApiError> {
    run(state, &principal, &headers, &uri, body, Shape::Objects).await
}

/// `POST /query/raw`: `{columns, rows, meta}`.
pub(super) async fn handle_query_raw(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, ApiError> {
    run(state, &principal, &headers, &uri, body, Shape::Raw).await
}

async fn run(
    state: AppState,
    principal: &Principal,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    body: Body,
    shape: Shape,
) -> Result<Response, ApiError> {
    let target = resolve_source(&state.engine, headers, uri)?;
    let json = read_json(headers, body, state.limits.max_request_bytes).await?;
    let request = QueryRequest::from_json(&json)?;
    let arity = match request {
        QueryRequest::Single(_) => Arity::One,
        QueryRequest::Transaction(_) => Arity::PerStep,
    };
    let plan = plan_query(request, state.engine.dialect(&target));
    let stream = state.engine.execute_on(principal, &target, plan).await?;
    let body = render(stream, shape, arity, state.limits.response).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
