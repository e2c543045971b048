//! `/admin/allowlist` and `/admin/rls/policies`: the admin's view of the policy tables.
//!
//! `GET` lists, `POST` adds one entry (checked first: a bad entry is a 400, not a table that
//! denies everything), `DELETE /{id}` removes one; `GET /admin/allowlist/rejections` shows
//! what the allowlist refused. Admin only: a client gets 403 / `42501`. Answers use
//! StarbaseDB's `{"result": …}` envelope. Must not know how entries are enforced.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, body::Bytes};
use serde::de::DeserializeOwned;
use serde_json::json;
use starbase_protocol::{DbError, SqlState};

use super::AppState;
use super::error::ApiError;
use crate::auth::{Principal, Role};
use crate::security::{AllowlistEntry, PolicyRow, PolicyStore};

/// Rejections listed when `?limit=` is not given.
const DEFAULT_REJECTIONS: i64 = 100;

/// The policy store, for the admin only.
async fn store<'s>(
    state: &'s AppState,
    principal: &Principal,
) -> Result<&'s PolicyStore, ApiError> {
    if principal.role != Role::Admin {
        return Err(DbError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied: only the admin manages the allowlist and policies",
        )
        .into());
    }
    let guard = state.engine.guard().ok_or_else(|| {
        DbError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "this gateway has no policy store",
        )
    })?;
    Ok(guard.store())
}

async fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| DbError::invalid_parameter(format!("invalid request body: {e}")).into())
}

fn result(status: StatusCode, value: &serde_json::Value) -> Response {
    (status, Json(json!({ "result": value }))).into_response()
}

async fn deleted(found: bool, what: &str, id: i64) -> Result<Response, ApiError> {
    if found {
        Ok(result(StatusCode::OK, &json!({ "deleted": id })))
    } else {
        Err(ApiError::with_status(
            StatusCode::NOT_FOUND,
            DbError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("{what} {id} does not exist"),
            ),
        ))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// `GET /admin/allowlist`.
pub(super) async fn handle_list_allowlist(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let entries = store(&state, &principal).await?.allowlist().await?;
    Ok(result(StatusCode::OK, &to_json(&entries)))
}

/// `POST /admin/allowlist` with `{"sql_statement", "source"?}`.
pub(super) async fn handle_add_allowlist(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let store = store(&state, &principal).await?;
    let entry = store
        .add_allowlist(body::<AllowlistEntry>(&bytes).await?)
        .await?;
    Ok(result(StatusCode::CREATED, &to_json(&entry)))
}

/// `DELETE /admin/allowlist/{id}`.
pub(super) async fn handle_delete_allowlist(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let found = store(&state, &principal)
        .await?
        .delete_allowlist(id)
        .await?;
    deleted(found, "allowlist entry", id).await
}

/// `?limit=` of the rejection list.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Limit {
    limit: Option<i64>,
}

/// `GET /admin/allowlist/rejections[?limit=n]`, newest first.
pub(super) async fn handle_list_rejections(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(limit): Query<Limit>,
) -> Result<Response, ApiError> {
    let limit = limit.limit.unwrap_or(DEFAULT_REJECTIONS).clamp(1, 10_000);
    let rows = store(&state, &principal).await?.rejections(limit).await?;
    Ok(result(StatusCode::OK, &serde_json::Value::Array(rows)))
}

/// `GET /admin/rls/policies`.
pub(super) async fn handle_list_policies(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let policies = store(&state, &principal).await?.policies().await?;
    Ok(result(StatusCode::OK, &to_json(&policies)))
}

/// `POST /admin/rls/policies` with StarbaseDB's policy columns.
pub(super) async fn handle_add_policy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let store = store(&state, &principal).await?;
    let policy = store.add_policy(body::<PolicyRow>(&bytes).await?).await?;
    Ok(result(StatusCode::CREATED, &to_json(&policy)))
}

/// `DELETE /admin/rls/policies/{id}`.
pub(super) async fn handle_delete_policy(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let found = store(&state, &principal).await?.delete_policy(id).await?;
    deleted(found, "policy", id).await
}
