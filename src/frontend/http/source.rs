//! Which data source a request targets: `X-Starbase-Source` or `?source=` (spec §3.4).
//!
//! Owns resolving the source name. Only the embedded database (`internal`) exists so far; any
//! other name is refused with `3D000` rather than silently served by the wrong database.

use axum::http::{HeaderMap, Uri};
use starbase_protocol::{DbError, SqlState};

/// The header naming the source.
pub(super) const SOURCE_HEADER: &str = "x-starbase-source";

/// Checks that the request targets the embedded database.
///
/// # Errors
/// `3D000` (HTTP 404) for any other source name.
pub(crate) fn require_internal_source(headers: &HeaderMap, uri: &Uri) -> Result<(), DbError> {
    let from_header = headers
        .get(SOURCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_query = || {
        uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "source")
                .map(|(_, v)| v.to_owned())
        })
    };
    let name = from_header.or_else(from_query).unwrap_or_default();
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || name == "internal" {
        Ok(())
    } else {
        Err(DbError::new(
            SqlState::INVALID_CATALOG_NAME,
            format!("data source \"{name}\" is not configured"),
        )
        .with_hint("omit the source to use the embedded database (\"internal\")"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wins_and_unknown_is_3d000() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/query?source=internal".parse().unwrap();
        assert!(require_internal_source(&headers, &uri).is_ok());
        headers.insert(SOURCE_HEADER, " External ".parse().unwrap());
        let err = require_internal_source(&headers, &uri).unwrap_err();
        assert_eq!(err.code.as_str(), "3D000");
        assert!(err.message.contains("\"external\""));
        let uri: Uri = "/query?a=1&source=nope".parse().unwrap();
        assert!(require_internal_source(&HeaderMap::new(), &uri).is_err());
        assert!(require_internal_source(&HeaderMap::new(), &"/query".parse().unwrap()).is_ok());
    }
}
