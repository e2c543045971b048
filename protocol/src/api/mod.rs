//! StarbaseDB-compatible JSON request and response shapes.
//!
//! Owns the serde DTOs of the HTTP and WebSocket API (spec §5.1, §5.5). Must not know axum.

pub mod query;
