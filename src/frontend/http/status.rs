//! Health and status routes: `GET /healthz` (no auth) and `GET /status/database` (spec §5.8).
//!
//! Owns their response shapes. Must not know SQL.

use axum::Json;
use axum::extract::State;
use serde_json::{Value as Json_, json};

use super::AppState;
use super::error::ApiError;

/// `GET /healthz`: the process is up and serving HTTP. Unauthenticated, no database work.
pub(super) async fn handle_healthz() -> Json<Json_> {
    Json(json!({"status": "ok"}))
}

/// `GET /status/database`: the dialect of each configured source, plus the embedded
/// database's size.
pub(super) async fn handle_status_database(
    State(state): State<AppState>,
) -> Result<Json<Json_>, ApiError> {
    let size = state
        .engine
        .sqlite()
        .database_size()
        .await
        .map_err(|e| ApiError::new(e.to_db_error()))?;
    let mut dialects = serde_json::Map::new();
    dialects.insert("internal".to_owned(), json!("sqlite"));
    for (name, dialect) in state.engine.sources().dialects() {
        dialects.insert(name.to_owned(), json!(dialect));
    }
    Ok(Json(json!({
        "result": {
            "dialects": dialects,
            "databaseSize": size,
        }
    })))
}
