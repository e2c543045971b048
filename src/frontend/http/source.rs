//! Which data source a request targets: `X-Starbase-Source` or `?source=` (spec §3.4).
//!
//! Owns reading the requested source name (the header wins over the query parameter; trimmed,
//! case-insensitive) and refusing routes that only the embedded database serves. Resolving
//! the name is the engine's: an unknown source is `3D000` rather than silently served by the
//! wrong database.

use axum::http::{HeaderMap, Uri};
use starbase_protocol::{DbError, SqlState};

use crate::engine::{Engine, Target, kind_name};

/// The header naming the source.
pub(super) const SOURCE_HEADER: &str = "x-starbase-source";

/// The source name a request gives, lowercased and trimmed; empty when it gives none.
fn requested(headers: &HeaderMap, uri: &Uri) -> String {
    let from_header = headers
        .get(SOURCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = || {
        uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "source")
                .map(|(_, v)| v.into_owned())
        })
    };
    let name = from_header.or_else(from_query).unwrap_or_default();
    name.trim().to_ascii_lowercase()
}

/// The target a request names.
///
/// # Errors
/// `3D000` (HTTP 404) for a source that is not configured.
pub(crate) fn resolve_source(
    engine: &Engine,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Target, DbError> {
    engine.resolve(&requested(headers, uri))
}

/// Checks that the request targets the embedded database, for the routes only it serves
/// (REST, export, import: they read SQLite's own catalog).
///
/// # Errors
/// `3D000` (HTTP 404) for a source that is not configured, `0A000` (HTTP 400) naming the
/// route and the backend for a configured external source.
pub(crate) fn require_internal_source(
    engine: &Engine,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(), DbError> {
    match resolve_source(engine, headers, uri)? {
        Target::Internal => Ok(()),
        Target::External(name) => {
            let kind = engine
                .sources()
                .backend(&name)
                .map_or("external", |b| kind_name(b.kind()));
            Err(DbError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "{} is not supported on data source \"{name}\" ({kind})",
                    uri.path()
                ),
            )
            .with_hint(
                "REST, export and import serve the embedded database only; use /query or \
                 /query/raw on external sources",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wins_over_the_query_and_names_are_normalised() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/query?source=internal".parse().unwrap();
        assert_eq!(requested(&headers, &uri), "internal");
        headers.insert(SOURCE_HEADER, " External ".parse().unwrap());
        assert_eq!(requested(&headers, &uri), "external");
        let uri: Uri = "/query?a=1&source=No%20pe".parse().unwrap();
        assert_eq!(requested(&HeaderMap::new(), &uri), "no pe");
        assert_eq!(requested(&HeaderMap::new(), &"/query".parse().unwrap()), "");
    }
}
