//! `starbase-backends`: the database engines behind Starbase, one streaming interface.
//!
//! Owns running a `protocol::Plan` on a backend and streaming its results back as
//! bounded batches (`ResultStream`). Must not know any frontend (no HTTP, no pgwire types).
//!
//! Layout:
//! - [`result`]: `Event`, `ExecSummary`, `ResultStream`, `TxnState`;
//! - [`error`]: `Error` with `sqlstate()`;
//! - [`sqlite`]: the embedded SQLite engine (one writer thread, a pool of reader threads);
//! - [`postgres`], [`mysql`]: external servers behind the same event contract, sharing
//!   [`external`] (configuration, the plan runner, sessions);
//! - [`dump`]: SQL dumps and script loads of the external servers (`DumpSource`);
//! - [`any`]: `AnyBackend`/`AnySession`, so the gateway can hold any of them.

pub mod error;
pub mod result;
#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod dump;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod external;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub mod any;

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use any::{AnyBackend, AnySession, BackendKind, ExecOptions, SessionConfig};
pub use error::Error;
pub use result::{Event, ExecSummary, ResultStream, TxnState};
