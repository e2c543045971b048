//! The gateway's own metadata database: dump jobs and checkpoints, policies, allowlist entries
//! and logs live here, in a SQLite file of their own beside the user's database
//! (`<data_dir>/meta.sqlite`).
//!
//! Keeping this state in a separate file (not in prefixed tables inside the user's database)
//! is what makes it unreachable to clients on every frontend: no client statement ever runs
//! on this connection. Owns opening the file and handing out the backend; each feature creates
//! its own tables (`CREATE TABLE IF NOT EXISTS …`) when it starts. Must not know any frontend.

use std::path::Path;
use std::time::Duration;

use starbase_backends::sqlite::{SqliteBackend, SqliteConfig};

use crate::error::Error;

/// File name of the metadata database inside the data directory.
pub const META_FILE: &str = "meta.sqlite";

/// Reader threads for the metadata database: its traffic is small and mostly writes.
const META_READERS: usize = 1;

/// The gateway's metadata database (a SQLite backend of its own).
#[derive(Debug, Clone)]
pub struct MetaDb {
    backend: SqliteBackend,
}

impl MetaDb {
    /// Opens (creating when missing) `<data_dir>/meta.sqlite`.
    ///
    /// # Errors
    /// `58030` when the file cannot be opened or set up.
    pub async fn open(data_dir: &Path) -> Result<Self, Error> {
        let config = SqliteConfig {
            path: data_dir.join(META_FILE),
            readers: META_READERS,
            busy_timeout: Duration::from_secs(5),
        };
        // Opening runs SQLite (WAL setup, recovery): keep it off the async workers.
        let backend = tokio::task::spawn_blocking(move || SqliteBackend::open(config))
            .await
            .map_err(|e| Error::io("opening the metadata database", std::io::Error::other(e)))??;
        Ok(Self { backend })
    }

    /// The backend that runs plans on the metadata database.
    #[must_use]
    pub fn backend(&self) -> &SqliteBackend {
        &self.backend
    }

    /// Stops the metadata database's threads (after every task using it has ended).
    pub async fn shutdown(&self) {
        self.backend.shutdown().await;
    }
}
