//! Which data source a request targets: `X-Starbase-Source` or `?source=` (spec §3.4).
//!
//! Owns reading the requested source name (the header wins over the query parameter; trimmed,
//! case-insensitive). Every route serves every source; resolving
//! the name is the engine's: an unknown source is `3D000` rather than silently served by the
//! wrong database.

use axum::http::{HeaderMap, Uri};
use starbase_protocol::DbError;

use crate::engine::{Engine, Target};

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
