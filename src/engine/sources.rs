//! The external data sources of a gateway, by name, and the `Target` a request picks.
//!
//! Owns building the backends from their configuration (lazily: nothing connects until the
//! first plan, so a server that is down does not stop the gateway), looking them up by name
//! and shutting them down. Must not know any frontend.

use std::collections::BTreeMap;
use std::sync::Arc;

use starbase_backends::mysql::MySqlBackend;
use starbase_backends::postgres::PgBackend;
use starbase_backends::{AnyBackend, BackendKind};
use starbase_protocol::{DbError, SqlState};

use crate::config::{EXTERNAL_SOURCE, INTERNAL_SOURCE, SourceConfig, SourceKind, SourceName};
use crate::error::Error;

/// Which database a plan runs on (StarbaseDB's `X-Starbase-Source` / `?source=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The embedded SQLite database.
    Internal,
    /// A configured external source.
    External(SourceName),
}

impl Target {
    /// The source's name as requests give it (`internal` for the embedded database).
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Target::Internal => INTERNAL_SOURCE,
            Target::External(name) => name.as_str(),
        }
    }
}

/// The external sources, by name. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sources(Arc<BTreeMap<SourceName, AnyBackend>>);

impl Sources {
    /// Sets up a backend per source without connecting to any.
    ///
    /// # Errors
    /// `08001` when a source's TLS cannot be set up, `22023` for an invalid pool setting.
    pub fn connect(configs: &[SourceConfig]) -> Result<Self, Error> {
        let mut map = BTreeMap::new();
        for c in configs {
            let backend = match c.kind {
                SourceKind::Postgres => AnyBackend::from(PgBackend::connect(&c.server)?),
                SourceKind::MySql => AnyBackend::from(MySqlBackend::connect(&c.server)?),
            };
            tracing::info!(
                source = c.name.as_str(),
                kind = c.kind.as_str(),
                address = %c.server.address(),
                "external source configured; it connects on first use"
            );
            map.insert(c.name.clone(), backend);
        }
        Ok(Self(Arc::new(map)))
    }

    /// Every source with its backend.
    pub fn iter(&self) -> impl Iterator<Item = (&SourceName, &AnyBackend)> {
        self.0.iter()
    }

    /// Backends given directly (tests).
    #[must_use]
    pub fn from_backends(backends: impl IntoIterator<Item = (SourceName, AnyBackend)>) -> Self {
        Self(Arc::new(backends.into_iter().collect()))
    }

    /// The target a request names; the name is trimmed and case-insensitive, and empty or
    /// `internal` is the embedded database.
    ///
    /// # Errors
    /// `3D000` for a name no source has.
    pub fn resolve(&self, name: &str) -> Result<Target, DbError> {
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || name == INTERNAL_SOURCE {
            return Ok(Target::Internal);
        }
        if let Some((key, _)) = self.0.iter().find(|(k, _)| k.as_str() == name) {
            return Ok(Target::External(key.clone()));
        }
        let hint = if self.0.is_empty() {
            format!(
                "no external source is configured: set STARBASE_EXTERNAL_URL, StarbaseDB's \
                 EXTERNAL_DB_* variables (source \"{EXTERNAL_SOURCE}\") or [[sources]] in \
                 starbase.toml"
            )
        } else {
            let names: Vec<_> = self.0.keys().map(|k| format!("\"{k}\"")).collect();
            format!("configured sources: \"internal\", {}", names.join(", "))
        };
        Err(DbError::new(
            SqlState::INVALID_CATALOG_NAME,
            format!("data source \"{name}\" is not configured"),
        )
        .with_hint(hint))
    }

    /// The backend of source `name`.
    ///
    /// # Errors
    /// `3D000` when there is none (only for a name that did not come from [`Sources::resolve`]).
    pub fn backend(&self, name: &SourceName) -> Result<&AnyBackend, DbError> {
        self.0.get(name).ok_or_else(|| {
            DbError::new(
                SqlState::INVALID_CATALOG_NAME,
                format!("data source \"{name}\" is not configured"),
            )
        })
    }

    /// StarbaseDB's dialect name of each source (`postgresql`, `mysql`), by name.
    pub fn dialects(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.0
            .iter()
            .map(|(name, b)| (name.as_str(), kind_name(b.kind())))
    }

    /// Stops every source's pool.
    pub async fn shutdown(&self) {
        for backend in self.0.values() {
            backend.shutdown().await;
        }
    }
}

/// StarbaseDB's name for a backend's dialect.
#[must_use]
pub fn kind_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgresql",
        BackendKind::MySql => "mysql",
    }
}

#[cfg(test)]
mod tests {
    use starbase_backends::external::config::ServerConfig;

    use super::*;

    fn sources(names: &[&str]) -> Sources {
        Sources::from_backends(names.iter().map(|n| {
            // Connecting is lazy: nothing listens on port 1 and nothing tries.
            let backend = PgBackend::connect(&ServerConfig::new("127.0.0.1", 1, "u", "d")).unwrap();
            (SourceName::parse(n).unwrap(), AnyBackend::from(backend))
        }))
    }

    #[tokio::test]
    async fn names_resolve_case_insensitively_and_unknown_ones_are_3d000() {
        let s = sources(&["external", "orders"]);
        assert_eq!(s.resolve("").unwrap(), Target::Internal);
        assert_eq!(s.resolve(" Internal ").unwrap(), Target::Internal);
        let orders = s.resolve("ORDERS").unwrap();
        assert_eq!(orders.name(), "orders");
        assert_eq!(
            s.backend(&SourceName::parse("orders").unwrap())
                .unwrap()
                .kind(),
            BackendKind::Postgres
        );
        let err = s.resolve("hyperdrive").unwrap_err();
        assert_eq!(err.code, SqlState::INVALID_CATALOG_NAME);
        assert!(err.message.contains("\"hyperdrive\""), "{}", err.message);
        let hint = err.hint.unwrap_or_default();
        assert!(hint.contains("\"external\", \"orders\""), "{hint}");
        let err = sources(&[]).resolve("external").unwrap_err();
        assert!(err.hint.unwrap_or_default().contains("EXTERNAL_DB_"));
        let dialects: Vec<_> = s.dialects().collect();
        assert_eq!(
            dialects,
            [("external", "postgresql"), ("orders", "postgresql")]
        );
    }
}
