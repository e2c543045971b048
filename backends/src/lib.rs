//! `starbase-backends`: the database engines behind Starbase, one streaming interface.
//!
//! Owns running a `protocol::Plan` on a backend and streaming its results back as
//! bounded batches (`ResultStream`). Must not know any frontend (no HTTP, no pgwire types).
//!
//! Layout:
//! - [`result`]: `Event`, `ExecSummary`, `ResultStream`, `TxnState`;
//! - [`error`]: `Error` with `sqlstate()`;
//! - [`sqlite`]: the embedded SQLite engine (one writer thread, a pool of reader threads).

pub mod error;
pub mod result;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use error::Error;
pub use result::{Event, ExecSummary, ResultStream, TxnState};
